"""`Dial`: ringing an agent directly, or an agent or extension dialing out.

A `DialBegin` to an internal interface (an agent's, or an extension's number) rings
that agent; a `DialBegin` from an internal leg to an external number makes the call
outbound, with the dialed leg as the customer. The first `DialEnd ANSWER` answers.
"""

from __future__ import annotations

from kernel.agents import interface_key
from kernel.phones import digits_of
from telephony import events as e
from telephony.reducer.agents import agent_key, is_agent_interface, learn_alias
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.channels import known, new_channel
from telephony.reducer.codes import DIAL_IN_PROGRESS, DialStatus
from telephony.reducer.numbers import is_external_number, is_internal_number
from telephony.reducer.rings import RingEnd, answered, end_ring, ring_end_reason, start_ring
from telephony.state import Call, CallPhase, Channel, Ring, interface_of, leg_of, local_half


def on_dial_begin(s: CallState, ev: e.DialBegin, at: float, out: Effects) -> None:
    if ev.caller is None:
        return  # the dial an Originate makes to its first channel
    found = known(s, ev.caller)
    if found is None:
        return
    call, caller = found
    dest = new_channel(s, ev.dest, at, out)
    if dest.uniqueid in call.rings:
        return
    dest_interface = _dialed_interface(ev.dial_string, dest.interface)
    target_number = _dial_number(ev.dial_string, ev.dest.exten, caller.exten)
    config = s.config
    ring = _ring_through(s, call, caller)
    if ring is not None:
        # The agent's Local channel dials what is behind it (FreePBX's `from-queue`):
        # the same ring reaching the device, not another agent. An internal phone is
        # another name of the agent (a forward to an outside number is not).
        if is_agent_interface(s, dest_interface) or (
            not is_external_number(config, target_number)
            and is_internal_number(config, target_number)
        ):
            learn_alias(s, agent_key(s, dest_interface), ring.agent)
        call.step(at, "dial", f"{ring.interface} → {dest_interface}")
        return
    call.dialed_anyone = True
    if is_agent_interface(s, dest_interface) or (
        not is_external_number(config, target_number) and is_internal_number(config, target_number)
    ):
        key = agent_key(s, dest_interface)
        agent = s.agents.get(key)
        ring = Ring(key, dest_interface, agent.name if agent else None, dest.uniqueid, None, at)
        call.step(at, "dial", f"{dest_interface}")
        start_ring(s, call, ring, at, out)
        return
    number = target_number if is_external_number(config, target_number) else None
    if number and _leg_is_internal(s, call, caller.leg):
        # An agent or extension dials out: the dialed leg is the customer.
        call.outbound_number = number
        call.outbound_leg = dest.leg
        call.customer_leg = dest.leg
        call.caller_num = caller.caller_num
        call.caller_name = caller.caller_name
        call.dialer_num, call.dialer_name = caller.caller_num, caller.caller_name
        call.agent_leg = caller.leg
        if call.phase is CallPhase.DIALPLAN:
            call.phase = CallPhase.DIALING
        call.step(at, "dial", number)


def on_dial_end(s: CallState, ev: e.DialEnd, at: float, out: Effects) -> None:
    if ev.caller is None:
        return
    found = known(s, ev.caller)
    if found is None:
        return
    call, caller = found
    status = ev.status.upper()
    ring = call.rings.get(ev.dest.uniqueid)
    if status == DialStatus.ANSWER:
        if ring is not None:
            answered(s, call, ring.agent, ring.interface, ring.agent_name, ring.queue, at, out)
            dest = s.channels.get(ev.dest.uniqueid)
            call.agent_leg = dest.leg if dest else call.agent_leg
        elif call.outbound_leg is not None and leg_of(ev.dest.name) == call.outbound_leg:
            interface = interface_of(caller.name)
            key = agent_key(s, interface)
            agent = s.agents.get(key)
            name = (agent.name if agent else None) or caller.caller_name
            answered(s, call, key, interface, name, None, at, out)
        call.last_dial_status = status
        return
    if status in DIAL_IN_PROGRESS:
        return
    if ring is not None:
        reason = RingEnd.NO_ANSWER if status == DialStatus.NOANSWER else ring_end_reason(call)
        end_ring(s, call, ring, reason, at, out)
    if call.phase is not CallPhase.CONNECTED or ring is None:
        call.last_dial_status = status
    if ring is not None and ring.queue is None and call.route_agent:
        call.step(at, "routed-not-answered", f"{ring.interface}: {status}")


def _ring_through(s: CallState, call: Call, caller: Channel) -> Ring | None:
    """The ring whose Local channel this `;2` half belongs to, if it is one."""
    if local_half(caller.name) != 2:
        return None
    for ring in call.rings.values():
        dest = s.channels.get(ring.dest_uniqueid)
        if dest is not None and dest.leg == caller.leg:
            return ring
    return None


def _leg_is_internal(s: CallState, call: Call, leg: str) -> bool:
    """An agent's device or an extension (a short caller number) is on this leg."""
    interface = interface_of(leg + ";1") if leg.startswith("Local/") else interface_of(leg)
    if is_agent_interface(s, interface):
        return True
    numbers = [c.caller_num for c in call.channels.values() if c.leg == leg and c.caller_num]
    if leg == call.customer_leg and call.caller_num:
        numbers.append(call.caller_num)
    return bool(numbers) and all(is_internal_number(s.config, n) for n in numbers)


def _dialed_interface(dial_string: str, channel_interface: str) -> str:
    """The interface a Dial targeted (`Local/102@agents/n`), else the dialed channel's."""
    target = dial_string.split("&")[0].strip()
    if "/" in target and not target.startswith(tuple(str(i) for i in range(10))):
        tech, _, rest = target.partition("/")
        if tech and rest and tech[0].isalpha():
            return interface_key(target.split(",")[0])
    return channel_interface


def _dial_number(dial_string: str, dest_exten: str, caller_exten: str) -> str | None:
    """The number a Dial targeted: the longest digit run in the dial string, else an exten."""
    best = ""
    run = ""
    for char in dial_string + " ":
        if char.isdigit() or (char == "+" and not run):
            run += char
        else:
            if len(digits_of(run)) > len(digits_of(best)):
                best = run
            run = ""
    if best:
        return best
    for exten in (dest_exten, caller_exten):
        if exten and digits_of(exten) == exten.lstrip("+"):
            return exten
    return None
