"""The simulated PBX's call engine: channels, queue members, devices and the AMI events
Asterisk 22 emits when they change.

The building blocks here (a Local channel pair, an agent ringing, answering, hanging up,
a caller abandoning …) write the same event sequences, header sets and ordering as the
recorded traces in `tests/traces/`; :mod:`telephony.simpbx.calls` strings them together
into whole calls. Events are buffered and written once per event-loop turn, so a burst
of events for one dialplan step reaches the sockets as one write, as Asterisk's do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator

from telephony.simpbx import wire as w
from telephony.simpbx.books import SimBooks
from telephony.simpbx.config import AgentConfig, SimConfig
from telephony.simpbx.model import (
    IntendedCall,
    QueueCaller,
    Ring,
    SimAgent,
    SimCall,
    SimMember,
    SimQueue,
    member_status,
)
from telephony.simpbx.wire import DOWN, RING, RINGING, UP, SimChannel

log = logging.getLogger(__name__)

_AGENT_INTERFACE = re.compile(r"^Local/(\w+)@agents(?:/n)?$")
_PHONE_INTERFACE = re.compile(r"^PJSIP/(?!trunk$)(\w+)$")  # PJSIP mode's agents
# In PJSIP mode a call leg is still modelled as a pair, but only one half is a real
# channel (the SIP trunk's or the phone's); the other half keeps its Local name and every
# frame that names it is left out, so no `;1/;2`, LocalBridge or Local device shows.
_HIDDEN = b"Local/"
# The PJSIP lab's dialplan pushes no `crm-hangup` handler.
_NO_HANDLER = b"crm-hangup,s,1"
# Which half of a pair is the PJSIP channel, by the pair's context: the customer's
# inbound leg runs the dialplan on `;2`, agents' and outbound legs are `;1`.
_PJSIP_HALF = {"from-trunk": 2, "agents": 1, "pstn-out": 1}


class CallEngine:
    """All state of one simulated Asterisk run; `reset` is a restart (nothing survives)."""

    def __init__(
        self,
        config: SimConfig,
        emit: Callable[[bytes], None],
        *,
        rng: random.Random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.timing = config.timing
        self._emit = emit
        self.rng = rng
        self.clock = clock
        self._buffer: list[bytes] = []
        self._flush_scheduled = False
        self.history: deque[IntendedCall] = deque(maxlen=10_000)
        self.last_agi_error: str | None = None
        self._last_epoch = 0
        self.books = SimBooks(config.queue_log_path, config.cdr_csv_path)
        self.reset()

    # --- lifecycle -----------------------------------------------------------------
    def reset(self) -> None:
        # A real restart takes seconds: Uniqueids (epoch.sequence) never repeat across it.
        self._epoch_floor = self._last_epoch + 1
        self.boot = self.clock()
        self.seq = 0
        self.local_seq = 0
        self.pjsip_seq = 0
        self.processed_calls = 0
        self.channels: dict[str, SimChannel] = {}  # by name
        self.calls: dict[str, SimCall] = {}  # by linkedid
        self.global_vars: dict[str, str] = {}
        self.agents: dict[str, SimAgent] = {
            a.number: SimAgent(a, answers=a.answers) for a in self.config.agents
        }
        self.queues: dict[str, SimQueue] = {q.name: SimQueue(q) for q in self.config.queues}
        self.members: dict[str, list[SimMember]] = {name: [] for name in self.queues}
        # interface text -> its extension (None: not an agent's): every queue member is
        # looked up on every pick and every agent change; with 1,000 members
        # (bench/cluster_pops.py) matching the pattern each time was the bulk of it
        self._interface_numbers: dict[str, str | None] = {}
        for agent in self.config.agents:
            for queue in agent.queues:
                if queue in self.members:
                    self.members[queue].append(
                        SimMember(queue, agent.interface, agent.name, "static", int(self.boot))
                    )
        self._device_states: dict[str, str] = {}
        self._buffer.clear()

    def abandon_all(self) -> list[SimCall]:
        """An Asterisk crash: every call task stops, no event is written for them."""
        calls = list(self.calls.values())
        for call in calls:
            if call.task is not None:
                call.task.cancel()
        for call in calls:
            call.intended.disposition = call.intended.disposition or "lost-in-restart"
        self._buffer.clear()
        return calls

    # --- output --------------------------------------------------------------------
    def emit(self, *frames: bytes) -> None:
        if self.config.pjsip:
            frames = tuple(f for f in frames if _HIDDEN not in f and _NO_HANDLER not in f)
            if not frames:
                return
        self._buffer.extend(frames)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer.clear()
            if self.books.enabled:
                self.books.feed(data, self.clock())
            self._emit(data)

    # --- ids and channels ----------------------------------------------------------
    def next_uniqueid(self) -> str:
        epoch = max(int(self.clock()), self._epoch_floor)
        self._last_epoch = max(self._last_epoch, epoch)
        uid = f"{epoch}.{self.seq}"
        self.seq += 1
        return uid

    def bridge_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def local_pair(
        self,
        exten: str,
        context: str,
        *,
        linkedid: str | None = None,
        ids: tuple[str | None, str | None] = (None, None),
    ) -> tuple[SimChannel, SimChannel]:
        suffix = f"{self.local_seq:08x}"
        self.local_seq += 1
        uid1 = ids[0] or self.next_uniqueid()
        uid2 = ids[1] or self.next_uniqueid()
        now = self.clock()
        base = f"Local/{exten}@{context}-{suffix}"
        names = [base + ";1", base + ";2"]
        half = _PJSIP_HALF.get(context, 1) if self.config.pjsip else 0
        if half == 2 and ids == (None, None):
            # The trunk's channel is the call's first channel: its id is the linked id.
            uid1, uid2 = uid2, uid1
            linkedid = linkedid or uid2
        if half:
            endpoint = "trunk" if context in ("from-trunk", "pstn-out") else exten
            names[half - 1] = f"PJSIP/{endpoint}-{self.pjsip_seq:08x}"
            self.pjsip_seq += 1
        one = SimChannel(names[0], uid1, linkedid or uid1, context, exten, DOWN, created=now)
        two = SimChannel(names[1], uid2, one.linkedid, context, exten, RING, created=now)
        one.peer, two.peer = two, one
        self.channels[one.name] = one
        self.channels[two.name] = two
        return one, two

    def drop_channel(self, ch: SimChannel) -> None:
        ch.hung_up = True
        self.channels.pop(ch.name, None)

    def find_channel(self, name: str) -> SimChannel | None:
        if self.config.pjsip and name.startswith("Local/"):
            return None  # the hidden half of a PJSIP leg is no channel Asterisk has
        return self.channels.get(name)

    def visible_channels(self) -> list[SimChannel]:
        """The channels AMI lists (in PJSIP mode: not the hidden halves)."""
        if self.config.pjsip:
            return [ch for ch in self.channels.values() if not ch.name.startswith("Local/")]
        return list(self.channels.values())

    def call_of(self, ch: SimChannel) -> SimCall | None:
        return self.calls.get(ch.linkedid)

    # --- agents, members, devices --------------------------------------------------
    def agent_for_interface(self, interface: str) -> SimAgent | None:
        number = self._interface_numbers.get(interface, "")
        if number == "":  # not seen yet: the pattern, once per interface text
            pattern = _PHONE_INTERFACE if self.config.pjsip else _AGENT_INTERFACE
            match = pattern.match(interface.strip())
            number = self._interface_numbers[interface] = match.group(1) if match else None
        if number is None:
            return None
        agent = self.agents.get(number)
        if agent is None:
            # A member added by QueueAdd for an extension the config does not name.
            technology = "PJSIP" if self.config.pjsip else "Local"
            config = AgentConfig(number, f"Agent {number}", (), technology=technology)
            agent = self.agents[number] = SimAgent(config)
        return agent

    def member(self, queue: str, interface: str) -> SimMember | None:
        key = interface.strip()
        for member in self.members.get(queue, ()):
            if member.interface == key:
                return member
        return None

    def memberships(self, agent: SimAgent) -> Iterator[SimMember]:
        for members in self.members.values():
            for member in members:
                if self.agent_for_interface(member.interface) is agent:
                    yield member

    def device_state(self, device: str, state: str, *, force: bool = False) -> bytes | None:
        """A `DeviceStateChange`, only when the state changes (unless forced)."""
        if not force and self._device_states.get(device) == state:
            return None
        self._device_states[device] = state
        return w.device_state(device, state)

    def device_states(self) -> dict[str, str]:
        return dict(self._device_states)

    def agent_changed(self, agent: SimAgent, *, device: str | None = None) -> None:
        """The agent's device changed: member status per queue, queue availability."""
        frames: list[bytes] = []
        for member in self.memberships(agent):
            frames.append(
                w.frame(
                    [
                        ("Event", "QueueMemberStatus"),
                        ("Privilege", "agent,all"),
                        *member.headers(agent),
                    ]
                )
            )
        for queue in self.queues.values():
            frame = self.avail_state(queue.name)
            if frame is not None:
                frames.append(frame)
        state = device or ("INUSE" if agent.busy() else "NOT_INUSE")
        if not agent.registered:
            state = "UNAVAILABLE"
        frames.append(w.device_state(agent.device, state))
        self._device_states[agent.device] = state
        self.emit(*frames)
        self.wake_waiting()

    def avail_state(self, queue: str) -> bytes | None:
        available = any(self.rings_now(queue, m) for m in self.members.get(queue, ()))
        return self.device_state(f"Queue:{queue}_avail", "NOT_INUSE" if available else "INUSE")

    def rings_now(self, queue: str, member: SimMember) -> bool:
        """Could app_queue ring this member now (not paused, free, out of wrap-up)?"""
        if member.paused:
            return False
        agent = self.agent_for_interface(member.interface)
        if agent is None or agent.busy() or not agent.registered:
            return False
        return self.clock() >= agent.wrapup_until

    def wake_waiting(self) -> None:
        for queue in self.queues.values():
            for caller in queue.waiting:
                caller.call.wake.set()

    def queue_changed(self, queue: SimQueue) -> None:
        frame = self.device_state(
            f"Queue:{queue.name}", "RINGING" if queue.waiting else "NOT_INUSE"
        )
        if frame is not None:
            self.emit(frame)

    # --- the pieces every call is made of ------------------------------------------
    def cel(self, ch: SimChannel, name: str, **kwargs: str | bool) -> bytes:
        return w.cel(ch, name, self.clock(), **kwargs)  # type: ignore[arg-type]

    def hangup_handler(self, ch: SimChannel, call: SimCall) -> list[bytes]:
        """The sample dialplan's `crm-hangup` handler on the customer's `;2` half."""
        if self.config.pjsip:
            return []
        iv = call.intended
        ch.context, ch.exten, ch.priority = "crm-hangup", "s", 1
        frames = [
            w.varset(ch, "LOCAL(ARGC)", "0"),
            w.newexten(ch, "NoOp", f"hangup handler {ch.name} cause=16"),
        ]
        ch.priority = 2
        body = [
            ("UserEvent", "CrmCallEnd"),
            ("Uniqueid", ch.uniqueid),
            ("Linkedid", ch.linkedid),
            ("Recording", iv.recording_file or ""),
            ("QueueStatus", ch.variables.get("QUEUESTATUS", "")),
            ("DialStatus", ch.variables.get("DIALSTATUS", "")),
            ("AgiStatus", ch.variables.get("AGISTATUS", "")),
            ("RouteAgent", ch.variables.get("ROUTE_AGENT", "")),
        ]
        data = "CrmCallEnd," + ",".join(f"{k}: {v}" for k, v in body[1:])
        frames.append(w.newexten(ch, "UserEvent", data))
        frames.append(w.channel_event("UserEvent", ch, *body, privilege="user,all"))
        ch.priority = 3
        frames += [
            w.newexten(ch, "Return", ""),
            w.varset(ch, "ARGC", ""),
            w.varset(ch, "GOSUB_RETVAL", ""),
        ]
        return frames

    def answer_channel(self, ch: SimChannel) -> bytes:
        ch.state = UP
        ch.answered = self.clock()
        return w.channel_event("Newstate", ch)

    def start_ring(
        self,
        call: SimCall,
        agent: SimAgent,
        *,
        queue: str | None,
        interface: str,
        answer_at: float | None,
    ) -> Ring:
        """An agent's Local channel pair is created and rings (from Queue or from Dial)."""
        caller = call.two
        assert caller is not None
        now = self.clock()
        one, two = self.local_pair(agent.number, "agents", linkedid=call.linkedid)
        dial_string = interface.removeprefix("Local/") if queue is None else interface
        if self.config.pjsip and queue is None:
            dial_string = agent.number  # Dial(PJSIP/202) reports DialString 202
        frames = [self.cel(one, "CHAN_START"), self.cel(two, "CHAN_START")]
        frames += [w.channel_event("Newchannel", one), w.channel_event("Newchannel", two)]
        one.cid_num, one.cid_name = caller.cid_num, caller.cid_name
        if self.config.pjsip:
            # A phone's channel carries the phone's own caller ID; the customer shows
            # only as its connected line.
            one.cid_num, one.cid_name = agent.number, agent.config.name
        if queue is not None:
            frames.append(w.newexten(one, "AppQueue", "(Outgoing Line)"))
            if not self.config.pjsip:
                frames.append(w.new_caller_id(one))
            frames.append(w.varset(one, "DIALEDPEERNUMBER", dial_string.removeprefix("Local/")))
        else:
            frames.append(w.varset(one, "DIALEDPEERNUMBER", dial_string))
            one.exten = caller.cid_num
            one.conn_num, one.conn_name = caller.cid_num, caller.cid_name
            frames.append(w.newexten(one, "AppDial", "(Outgoing Line)"))
            if not self.config.pjsip:
                frames.append(w.new_caller_id(one))
            frames.append(w.channel_event("NewConnectedLine", one))
        frames.append(w.varset(two, "DIALEDPEERNUMBER", dial_string.removeprefix("Local/")))
        two.cid_num, two.cid_name = caller.cid_num, caller.cid_name
        frames.append(w.new_caller_id(two))
        two.conn_num, two.conn_name = caller.cid_num, caller.cid_name
        frames.append(w.channel_event("NewConnectedLine", two))
        frames.append(w.local_bridge(one, two))
        if queue is not None:
            # app_queue's snapshot of the dialed channel already shows the caller.
            shown = dataclasses.replace(
                one, exten=caller.cid_num, conn_num=caller.cid_num, conn_name=caller.cid_name
            )
            member = self.member(queue, interface)
            frames.append(
                w.frame(
                    [
                        ("Event", "AgentCalled"),
                        ("Privilege", "agent,all"),
                        *caller.block(),
                        *shown.block("Dest"),
                        ("Queue", queue),
                        ("Interface", interface),
                        ("MemberName", member.name if member else agent.name),
                    ]
                )
            )
            frames.append(w.dial_event("DialBegin", caller, one, ("DialString", dial_string)))
        two.priority = 1
        frames.append(w.newexten(two, "NoOp", f"Agent {agent.number} is ringing"))
        two.priority = 2
        frames.append(w.newexten(two, "Ringing", ""))
        one.state = RINGING
        one.exten = caller.cid_num
        one.conn_num, one.conn_name = caller.cid_num, caller.cid_name
        frames.append(w.channel_event("Newstate", one))
        if queue is not None:
            frames.append(w.newexten(one, "AppQueue", "(Outgoing Line)"))
            frames.append(w.channel_event("NewConnectedLine", one))
        self.emit(*frames)
        agent.ringing.add(call.linkedid)
        agent.last_rung = now
        self.agent_changed(agent)
        frames = []
        two.priority = 3
        frames.append(w.newexten(two, "GotoIf", f"{0 if answer_at is not None else 1}?noanswer"))
        if queue is None:
            frames.append(w.dial_event("DialBegin", caller, one, ("DialString", dial_string)))
            frames.append(w.varset(caller, "RINGTIME", "0"))
            frames.append(w.varset(caller, "RINGTIME_MS", "1"))
        if answer_at is not None:
            two.priority = 4
            frames.append(w.newexten(two, "Wait", f"{max(0.0, answer_at - now):.0f}"))
        else:
            two.priority = 9
            frames.append(w.newexten(two, "Wait", "300"))
        frames.append(w.dial_event("DialState", caller, one, ("DialStatus", "RINGING")))
        self.emit(*frames)
        ring = Ring(agent, one, two, now, answer_at, queue, interface)
        call.rings.append(ring)
        return ring

    def end_ring(self, call: SimCall, ring: Ring, status: str, *, no_answer: bool) -> None:
        """Stop one ring: NOANSWER after the ring timeout, CANCEL otherwise."""
        caller = call.two
        assert caller is not None
        now = self.clock()
        frames: list[bytes] = []
        if ring in call.rings:
            call.rings.remove(ring)
        if no_answer and ring.queue is not None:
            member = self.member(ring.queue, ring.interface)
            frames.append(
                w.frame(
                    [
                        ("Event", "AgentRingNoAnswer"),
                        ("Privilege", "agent,all"),
                        *caller.block(),
                        *ring.one.block("Dest"),
                        ("Queue", ring.queue),
                        ("Interface", ring.interface),
                        ("MemberName", member.name if member else ring.agent.name),
                        ("RingTime", str(int((now - ring.started) * 1000))),
                    ]
                )
            )
        frames.append(
            w.cdr(
                ring.two,
                destination=ring.agent.number,
                dest_context="agents",
                dest_channel="",
                last_app="Wait",
                last_data="300" if ring.answer_at is None else "1",
                answered=None,
                now=now,
            )
        )
        frames.append(w.dial_event("DialEnd", caller, ring.one, ("DialStatus", status)))
        if status != "CANCEL" and ring.queue is not None:
            frames.append(w.dial_event("DialEnd", caller, ring.one, ("DialStatus", "CANCEL")))
        frames.append(w.channel_event("HangupRequest", ring.two, ("Cause", "0")))
        frames.append(w.hangup(ring.one, 0))
        frames.append(w.channel_event("SoftHangupRequest", ring.two, ("Cause", "16")))
        self.drop_channel(ring.one)
        self.emit(*frames)
        ring.agent.ringing.discard(call.linkedid)
        self.agent_changed(ring.agent)
        self.emit(w.hangup(ring.two, 0))
        self.drop_channel(ring.two)

    def answer_ring(self, call: SimCall, ring: Ring) -> None:
        """The agent picks up; other rings are cancelled; agent and caller are bridged."""
        caller = call.two
        assert caller is not None
        now = self.clock()
        agent = ring.agent
        one, two = ring.one, ring.two
        frames = [
            self.cel(two, "ANSWER", app="Answer"),
            self.cel(one, "ANSWER", app="AppQueue", data="(Outgoing Line)"),
        ]
        two.priority = 5
        frames.append(w.newexten(two, "Answer", ""))
        frames.append(self.answer_channel(one))
        frames.append(self.answer_channel(two))
        if ring.queue is None:
            caller.variables["DIALSTATUS"] = "ANSWER"
            frames += [
                w.varset(caller, "DIALSTATUS", "ANSWER"),
                w.varset(caller, "DIALEDPEERNAME", one.name),
                w.varset(caller, "DIALEDPEERNUMBER", ring.interface.removeprefix("Local/")),
            ]
        frames.append(w.dial_event("DialEnd", caller, one, ("DialStatus", "ANSWER")))
        self.emit(*frames)
        call.rings.remove(ring)
        for other in list(call.rings):
            self.end_ring(call, other, "CANCEL", no_answer=False)
        agent.ringing.discard(call.linkedid)
        agent.on_call = call.linkedid
        call.agent, call.agent_one, call.agent_two = agent, one, two
        call.answered_at = now
        bridge = call.bridge_id = self.bridge_uuid()
        frames = []
        if ring.queue is not None:
            queue = self.queues[ring.queue]
            hold = now - (call.queue_joined or now)
            frames += [
                w.channel_event("MusicOnHoldStop", caller),
                self.cel(caller, "STREAM_END", app="Queue", data=caller.app_data),
                self.cel(
                    one,
                    "BRIDGE_ENTER",
                    app="AppQueue",
                    data="(Outgoing Line)",
                    ani=True,
                    extra=json.dumps({"bridge_id": bridge, "bridge_technology": "simple_bridge"}),
                ),
            ]
            position = self.leave_queue(call, queue)
            frame = self.device_state(
                f"Queue:{queue.name}", "RINGING" if queue.waiting else "NOT_INUSE"
            )
            if frame is not None:
                frames.append(frame)
            frames.append(
                self.queue_caller(
                    "QueueCallerLeave", call, queue.name, position, len(queue.waiting)
                )
            )
            frames += [
                w.varset(caller, "QUEUEPOSITION", str(position)),
                w.varset(caller, "QUEUEWAIT", str(int(hold))),
                w.varset(caller, "QUEUEWAIT_MS", str(int(hold * 1000))),
            ]
            member = self.member(queue.name, ring.interface)
            frames.append(
                w.frame(
                    [
                        ("Event", "AgentConnect"),
                        ("Privilege", "agent,all"),
                        *caller.block(),
                        *one.block("Dest"),
                        ("Queue", queue.name),
                        ("Interface", ring.interface),
                        ("MemberName", member.name if member else agent.name),
                        ("HoldTime", str(round(hold))),
                        ("RingTime", str(round(now - ring.started))),
                    ]
                )
            )
            queue.hold_total += hold
        else:
            one.exten = ""
            frames.append(w.newexten(one, "AppDial", "(Outgoing Line)"))
        frames.append(w.bridge_event("BridgeCreate", bridge, 0))
        one.bridge_id = caller.bridge_id = bridge
        frames.append(w.bridge_event("BridgeEnter", bridge, 1, one))
        frames.append(w.bridge_event("BridgeEnter", bridge, 2, caller))
        frames.append(w.varset(one, "BRIDGEPEER", caller.name))
        frames.append(w.varset(caller, "BRIDGEPEER", one.name))
        self.emit(*frames)
        self.agent_changed(agent)
        two.priority = 6
        self.emit(
            w.newexten(two, "Playback", "hello-world&demo-congrats"),
            self.cel(
                two, "STREAM_BEGIN", app="Playback", data="hello-world&demo-congrats", ani=True
            ),
        )
        if call.intended.agent_interface is None:
            call.intended.agent_interface = ring.interface
        call.intended.disposition = "answered"

    def queue_caller(
        self, name: str, call: SimCall, queue: str, position: int, count: int
    ) -> bytes:
        caller = call.two
        assert caller is not None
        return w.frame(
            [
                ("Event", name),
                ("Privilege", "agent,all"),
                *caller.block(),
                ("Queue", queue),
                ("Position", str(position)),
                ("Count", str(count)),
            ]
        )

    def join_queue(self, call: SimCall, queue: SimQueue) -> None:
        caller = call.two
        assert caller is not None
        now = self.clock()
        call.queue_joined = now
        try:
            priority = int(caller.variables.get("QUEUE_PRIO") or 0)
        except ValueError:
            priority = 0
        position = next(
            (i for i, entry in enumerate(queue.waiting) if entry.priority < priority),
            len(queue.waiting),
        )
        queue.waiting.insert(position, QueueCaller(call, now, priority))
        call.intended.queue = queue.name
        frames: list[bytes] = []
        for var in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            frames.append(w.varset(caller, var, ""))
        frame = self.device_state(f"Queue:{queue.name}", "RINGING")
        if frame is not None:
            frames.append(frame)
        frames.append(
            self.queue_caller("QueueCallerJoin", call, queue.name, position + 1, len(queue.waiting))
        )
        frames.append(w.channel_event("MusicOnHoldStart", caller, ("Class", "default")))
        self.emit(*frames)

    def leave_queue(self, call: SimCall, queue: SimQueue) -> int:
        """Remove the caller from the waiting list; returns the position it had."""
        for index, entry in enumerate(queue.waiting):
            if entry.call is call:
                del queue.waiting[index]
                return index + 1
        return 1

    def members_of(self, queue: str) -> list[SimMember]:
        return list(self.members.get(queue, ()))

    def member_status(self, member: SimMember) -> int:
        return member_status(self.agent_for_interface(member.interface))


async def wait_until(engine: CallEngine, call: SimCall, deadline: float) -> None:
    """Sleep until `deadline` or until something changes for the call (`call.wake`)."""
    timeout = deadline - engine.clock()
    if timeout <= 0:
        return
    call.wake.clear()
    try:
        async with asyncio.timeout(timeout):
            await call.wake.wait()
    except TimeoutError:
        pass
