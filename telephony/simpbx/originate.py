"""What the simulated PBX does with an `Originate` action.

* `Local/<number>@from-trunk` into `customer-sim` — a customer call, exactly how the lab
  created the traces (variables PATIENCE, CNUM, CNAME, TARGET_QUEUE honoured);
* an agent's interface (`Local/1XX@<context>[/n]`) into `Context`/`Exten` — click-to-call:
  the agent's phone rings first, then the customer (`Local/<number>@pstn-out`), as the
  c2c call in trace 06;
* an agent's or supervisor's interface into `Application: ChanSpy` — listen, whisper,
  barge;
* anything else fails like Asterisk: `Originate failed` synchronously, or
  `OriginateResponse` `Failure`/`Reason: 0`/`Uniqueid: <unknown>` asynchronously.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass

from telephony.simpbx import wire as w
from telephony.simpbx.calls import Calls, OriginateInfo, originate_response
from telephony.simpbx.engine import wait_until
from telephony.simpbx.model import HangupBy, IntendedCall, SimAgent, SimCall
from telephony.simpbx.wire import LegacyText, SimChannel

_LOCAL = re.compile(r"^Local/([^@]+)@([^/]+?)(?:/n)?$")
_PJSIP = re.compile(r"^PJSIP/(\w+)$")  # a phone, in PJSIP mode
_CALLER_ID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')


@dataclass(slots=True)
class OriginateRequest:
    channel: str
    context: str = ""
    exten: str = ""
    application: str = ""
    data: str = ""
    caller_id: str = ""
    timeout: float = 30.0
    variables: Mapping[str, str] | None = None
    channel_id: str | None = None
    other_channel_id: str | None = None


def parse_caller_id(value: str) -> tuple[str, str]:
    """`"Agent 101" <101>` → ("Agent 101", "101"); a bare number → ("", number)."""
    match = _CALLER_ID.match(value)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    value = value.strip()
    return ("", value) if value.replace("+", "").isdigit() else (value, "")


class Originator:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.e = calls.e

    def accepts(self, request: OriginateRequest) -> bool:
        """Would Asterisk be able to create this channel at all?"""
        phone = self._phone(request.channel)
        if phone is not None:
            return phone is not False
        match = _LOCAL.match(request.channel)
        if match is None:
            return False
        exten, context = match.groups()
        if context == "from-trunk":
            return True
        if context.startswith("agents"):
            return self.e.agent_for_interface(f"Local/{exten}@agents/n") is not None
        return False

    def _phone(self, channel: str) -> SimAgent | bool | None:
        """`PJSIP/201` in PJSIP mode: the phone's agent (False: no such phone);
        None: not a phone."""
        if not self.e.config.pjsip or _PJSIP.match(channel) is None:
            return None
        agent = self.e.agent_for_interface(channel) if channel != "PJSIP/trunk" else None
        return agent if agent is not None else False

    def start(self, request: OriginateRequest, info: OriginateInfo) -> bool:
        """Start the call in the background; False when it cannot be created."""
        if not self.accepts(request):
            return False
        variables = dict(request.variables or {})
        phone = self._phone(request.channel)
        if isinstance(phone, SimAgent):
            agent, context = phone, "agents"
        else:
            match = _LOCAL.match(request.channel)
            assert match is not None
            exten, context = match.groups()
            if context == "from-trunk":
                self._customer_call(exten, request, variables, info)
                return True
            found = self.e.agent_for_interface(f"Local/{exten}@agents/n")
            assert found is not None
            agent = found
        loop = asyncio.get_running_loop()
        call = self._agent_leg(agent, context, request, variables)
        flow = (
            (lambda: self._spy(call, agent, request, info))
            if request.application
            else (lambda: self._click_to_call(call, agent, request, info))
        )
        call.task = loop.create_task(
            self.calls._run(call, flow), name=f"simpbx-originate-{call.linkedid}"
        )
        return True

    # --- the lab's customer calls ----------------------------------------------------
    def _customer_call(
        self, exten: str, request: OriginateRequest, variables: dict[str, str], info: OriginateInfo
    ) -> None:
        t = self.e.timing
        name, number = parse_caller_id(request.caller_id)
        number = variables.get("CNUM") or number or exten
        name = variables.get("CNAME") or name
        try:
            patience = float(variables.get("PATIENCE", ""))
        except ValueError:
            patience = self.e.rng.uniform(*t.patience)
        call = self.calls.new_inbound(
            exten,
            name,
            caller_number=number,
            patience=patience,
            talk_time=self.e.rng.uniform(*t.talk_time),
            hangup_by=HangupBy.CALLER,
            queue=variables.get("TARGET_QUEUE") or self.e.config.default_queue,
            originate=info,
        )
        assert call.two is not None
        for key in ("TARGET_QUEUE",):
            if key in variables:
                call.two.variables[key] = variables[key]

    # --- agent-first calls -------------------------------------------------------------
    def _agent_leg(
        self, agent: SimAgent, context: str, request: OriginateRequest, variables: dict[str, str]
    ) -> SimCall:
        e = self.e
        one, two = e.local_pair(
            agent.number, context, ids=(request.channel_id, request.other_channel_id)
        )
        name, number = parse_caller_id(request.caller_id)
        direction = "internal" if request.application else "outbound"
        intended = IntendedCall(
            one.linkedid, number or agent.number, name or None, direction=direction
        )
        intended.called_number = request.exten or None
        call = SimCall(one.linkedid, intended, one, None, talk_time=e.timing.remote_talk_time)
        call.agent_one, call.agent_two, call.agent = one, two, agent
        e.calls[call.linkedid] = call
        # Originate(PJSIP/201) reports DialString 201, as in the PJSIP click-to-call trace.
        dial_string = agent.number if e.config.pjsip else f"{agent.number}@{context}/n"
        frames = [
            w.channel_event("Newchannel", one),
            w.channel_event("Newchannel", two),
            w.newexten(one, "AppDial2", "(Outgoing Line)"),
        ]
        frames += [w.varset(one, k, v) for k, v in variables.items()]
        one.cid_num, one.cid_name = number, name
        one.conn_num, one.conn_name = number, name
        frames += [w.new_caller_id(one), w.channel_event("NewConnectedLine", one)]
        frames += [w.varset(two, k, v) for k, v in variables.items()]
        two.cid_num, two.cid_name = number, name
        two.conn_num, two.conn_name = number, name
        frames += [
            w.new_caller_id(two),
            w.channel_event("NewConnectedLine", two),
            w.local_bridge(one, two),
            w.dial_event("DialBegin", None, one, ("DialString", dial_string)),
            w.newexten(two, "NoOp", f"Click-to-call: agent {agent.number} phone rings"),
        ]
        two.priority = 2
        frames.append(w.newexten(two, "Ringing", ""))
        one.state = w.RINGING
        frames.append(w.channel_event("Newstate", one))
        two.priority = 3
        frames += [
            w.newexten(two, "Wait", "3"),
            w.dial_event("DialState", None, one, ("DialStatus", "RINGING")),
        ]
        e.emit(*frames)
        agent.ringing.add(call.linkedid)
        e.agent_changed(agent)
        return call

    async def _agent_answers(
        self, call: SimCall, agent: SimAgent, request: OriginateRequest, info: OriginateInfo
    ) -> bool:
        e = self.e
        one, two = call.agent_one, call.agent_two
        assert one is not None and two is not None
        now = e.clock()
        delay = agent.config.answer_delay
        if delay is None:
            delay = e.timing.answer_delay[0]
        answer_at = now + delay if agent.answers else None
        give_up = now + request.timeout
        while True:
            now = e.clock()
            if (
                call.hangup_request is not None
                or (answer_at is None and now >= give_up)
                or (answer_at is not None and answer_at > give_up and now >= give_up)
            ):
                cause = call.hangup_request[1] if call.hangup_request else 19
                call.hangup_request = None
                info.reply(originate_response(info, one, "Failure", 3 if cause == 19 else 1))
                e.emit(
                    w.channel_event("HangupRequest", two, ("Cause", str(cause))),
                    w.hangup(one, cause),
                    w.channel_event("SoftHangupRequest", two, ("Cause", "16")),
                    w.hangup(two, cause),
                )
                e.drop_channel(one)
                e.drop_channel(two)
                agent.ringing.discard(call.linkedid)
                e.agent_changed(agent)
                call.intended.disposition = "failed"
                call.intended.direction = "internal"
                return False
            if answer_at is not None and now >= answer_at:
                break
            await wait_until(e, call, min(give_up, answer_at) if answer_at is not None else give_up)
        two.priority = 4
        frames = [
            w.newexten(two, "Answer", ""),
            e.answer_channel(one),
            e.answer_channel(two),
        ]
        e.emit(*frames)
        info.reply(originate_response(info, one, "Success", 4))
        e.emit(w.dial_event("DialEnd", None, one, ("DialStatus", "ANSWER")))
        agent.ringing.discard(call.linkedid)
        agent.on_call = call.linkedid
        e.agent_changed(agent)
        return True

    async def _click_to_call(
        self, call: SimCall, agent: SimAgent, request: OriginateRequest, info: OriginateInfo
    ) -> None:
        e = self.e
        one, two = call.agent_one, call.agent_two
        assert one is not None and two is not None
        if not await self._agent_answers(call, agent, request, info):
            return
        number = request.exten
        one.context, one.exten, one.priority = request.context or "from-internal", number, 1
        frames = [w.newexten(one, "NoOp", f"Outbound call from {one.cid_num} to {number}")]
        one.priority = 2
        frames += [
            w.newexten(one, "Set", "CHANNEL(hangup_handler_push)=crm-hangup,s,1"),
            w.channel_event(
                "HangupHandlerPush", one, ("Handler", "crm-hangup,s,1"), privilege="dialplan,all"
            ),
        ]
        recording = f"{e.config.recordings_path}/{one.uniqueid}.wav"
        if e.config.record:
            one.priority = 3
            frames += [
                w.newexten(one, "MixMonitor", f"{recording},b"),
                w.varset(one, "MIXMONITOR_FILENAME", recording),
                w.channel_event("MixMonitorStart", one),
            ]
            call.intended.recording_file = recording.rsplit("/", 1)[-1]
        one.priority = 4
        # The lab dials the customer through a Local channel, the PJSIP lab through the trunk.
        dialled = f"{number}@trunk" if e.config.pjsip else f"{number}@pstn-out/n"
        technology = "PJSIP" if e.config.pjsip else "Local"
        frames.append(w.newexten(one, "Dial", f"{technology}/{dialled},30"))
        for var in (
            "DIALSTATUS",
            "DIALEDPEERNUMBER",
            "DIALEDPEERNAME",
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "RINGTIME",
            "RINGTIME_MS",
            "PROGRESSTIME",
            "PROGRESSTIME_MS",
        ):
            frames.append(w.varset(one, var, ""))
        e.emit(*frames)
        r1, r2 = e.local_pair(number, "pstn-out", linkedid=call.linkedid)
        frames = [w.channel_event("Newchannel", r1), w.channel_event("Newchannel", r2)]
        frames.append(w.varset(r1, "DIALEDPEERNUMBER", dialled))
        r1.cid_num, r1.cid_name = number, one.cid_name
        frames += [w.newexten(r1, "AppDial", "(Outgoing Line)"), w.new_caller_id(r1)]
        r1.conn_num, r1.conn_name = number, one.cid_name
        frames.append(w.channel_event("NewConnectedLine", r1))
        frames.append(w.varset(r2, "DIALEDPEERNUMBER", dialled))
        r2.cid_num, r2.cid_name = one.cid_num, one.cid_name
        r2.conn_num, r2.conn_name = one.cid_num, one.cid_name
        frames += [
            w.new_caller_id(r2),
            w.channel_event("NewConnectedLine", r2),
            w.local_bridge(r1, r2),
            w.dial_event("DialBegin", one, r1, ("DialString", dialled)),
            w.newexten(r2, "Ringing", ""),
        ]
        r1.state = w.RINGING
        frames.append(w.channel_event("Newstate", r1))
        r2.priority = 2
        frames.append(w.newexten(r2, "Wait", f"{e.timing.remote_answer_delay:.0f}"))
        device = e.device_state(r1.device, "INUSE", force=True)
        assert device is not None
        frames += [
            device,
            w.varset(one, "RINGTIME", "0"),
            w.varset(one, "RINGTIME_MS", "0"),
            w.dial_event("DialState", one, r1, ("DialStatus", "RINGING")),
        ]
        two.priority = 5
        frames.append(w.newexten(two, "Playback", "hello-world&demo-congrats"))
        e.emit(*frames)
        await wait_until(e, call, e.clock() + e.timing.remote_answer_delay)
        if call.hangup_request is not None:
            self._c2c_teardown(call, r1, r2, bridged=False)
            return
        r2.priority = 3
        frames = [w.newexten(r2, "Answer", ""), e.answer_channel(r2), e.answer_channel(r1)]
        frames += [
            w.varset(one, "DIALSTATUS", "ANSWER"),
            w.varset(one, "DIALEDPEERNAME", r1.name),
            w.varset(one, "DIALEDPEERNUMBER", dialled),
            w.dial_event("DialEnd", one, r1, ("DialStatus", "ANSWER")),
        ]
        r1.exten = ""
        bridge = call.bridge_id = e.bridge_uuid()
        frames += [
            w.newexten(r1, "AppDial", "(Outgoing Line)"),
            w.bridge_event("BridgeCreate", bridge, 0),
            w.bridge_event("BridgeEnter", bridge, 1, r1),
            w.bridge_event("BridgeEnter", bridge, 2, one),
            w.varset(r1, "BRIDGEPEER", one.name),
            w.varset(one, "BRIDGEPEER", r1.name),
        ]
        r2.priority = 4
        frames.append(w.newexten(r2, "Playback", "tt-weasels&hello-world"))
        e.emit(*frames)
        call.answered_at = e.clock()
        call.intended.disposition = "answered"
        call.intended.agent_interface = agent.device
        await wait_until(e, call, call.answered_at + call.talk_time)
        self._c2c_teardown(call, r1, r2, bridged=True)

    def _c2c_teardown(
        self, call: SimCall, r1: SimChannel, r2: SimChannel, *, bridged: bool
    ) -> None:
        """The customer (or whoever a Hangup action named) ends the click-to-call."""
        e = self.e
        one, two, agent = call.agent_one, call.agent_two, call.agent
        assert one is not None and two is not None and agent is not None
        cause = call.hangup_request[1] if call.hangup_request else 16
        call.hangup_request = None
        frames: list[bytes] = []
        if bridged:
            frames += [w.varset(r2, "PLAYBACKSTATUS", "SUCCESS"), w.newexten(r2, "Wait", "2")]
            r2.priority = 6
            frames.append(w.newexten(r2, "Hangup", ""))
        frames += [
            w.channel_event("SoftHangupRequest", r2, ("Cause", str(cause))),
            w.channel_event("HangupRequest", r1, ("Cause", str(cause))),
        ]
        if bridged:
            frames += [
                w.varset(r1, "BRIDGEPEER", ""),
                w.varset(one, "BRIDGEPEER", ""),
                w.bridge_event("BridgeLeave", call.bridge_id, 1, r1),
                w.bridge_event("BridgeLeave", call.bridge_id, 0, one),
            ]
        frames.append(w.hangup(r1, cause))
        e.drop_channel(r1)
        talk = e.clock() - call.answered_at if call.answered_at is not None else 0.0
        call.intended.talk_seconds = talk
        frames += [
            w.varset(one, "ANSWEREDTIME", str(int(talk))),
            w.varset(one, "ANSWEREDTIME_MS", str(int(talk * 1000))),
            w.varset(one, "DIALSTATUS", "ANSWER" if bridged else "CANCEL"),
            w.channel_event("SoftHangupRequest", one, ("Cause", "16")),
            w.channel_event(
                "HangupHandlerRun", one, ("Handler", "crm-hangup,s,1"), privilege="dialplan,all"
            ),
        ]
        frames += e.hangup_handler(one, call)
        frames += [
            w.channel_event("HangupRequest", two, ("Cause", "16")),
            w.varset(two, "PLAYBACKSTATUS", "SUCCESS"),
            w.channel_event("SoftHangupRequest", two, ("Cause", "16")),
            w.hangup(two, 16),
        ]
        e.drop_channel(two)
        device = e.device_state(r1.device, "NOT_INUSE", force=True)
        assert device is not None
        frames += [device, w.hangup(one, 16)]
        e.drop_channel(one)
        if bridged:
            frames.append(w.bridge_event("BridgeDestroy", call.bridge_id, 0))
        frames.append(w.hangup(r2, cause))
        e.drop_channel(r2)
        e.emit(*frames)
        agent.on_call = None
        e.agent_changed(agent)
        if not bridged:
            call.intended.disposition = "no-answer"

    # --- ChanSpy -------------------------------------------------------------------------
    async def _spy(
        self, call: SimCall, agent: SimAgent, request: OriginateRequest, info: OriginateInfo
    ) -> None:
        e = self.e
        one, two = call.agent_one, call.agent_two
        assert one is not None and two is not None
        if not await self._agent_answers(call, agent, request, info):
            return
        prefix = request.data.partition(",")[0]
        one.app, one.app_data = request.application, request.data
        target = next(
            (
                ch
                for name, ch in e.channels.items()
                if prefix and name.startswith(prefix) and ch is not one and ch is not two
            ),
            None,
        )
        frames = [e.cel(one, "APP_START", app=request.application, data=request.data)]
        if target is not None:
            frames.append(
                w.frame(
                    [
                        ("Event", "ChanSpyStart"),
                        ("Privilege", "call,all"),
                        *one.block("Spyer"),
                        *target.block("Spyee"),
                    ]
                )
            )
        e.emit(*frames)
        call.answered_at = e.clock()
        call.intended.disposition = "answered" if target is not None else "no-answer"
        while target is not None and not target.hung_up and call.hangup_request is None:
            await wait_until(e, call, e.clock() + 0.2)
        frames = []
        if target is not None:
            frames.append(
                w.frame(
                    [
                        ("Event", "ChanSpyStop"),
                        ("Privilege", "call,all"),
                        *one.block("Spyer"),
                        *target.block("Spyee"),
                    ]
                )
            )
        cause = call.hangup_request[1] if call.hangup_request else 16
        call.hangup_request = None
        frames += [
            w.channel_event("SoftHangupRequest", one, ("Cause", str(cause))),
            w.channel_event("HangupRequest", two, ("Cause", str(cause))),
            w.hangup(one, cause),
            w.channel_event("SoftHangupRequest", two, ("Cause", "16")),
            w.hangup(two, cause),
        ]
        e.drop_channel(one)
        e.drop_channel(two)
        e.emit(*frames)
        agent.on_call = None
        e.agent_changed(agent)


def legacy_if_not_utf8(raw: bytes) -> str:
    """An action header value as received: UTF-8, or cp1251 kept as it came."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return LegacyText(raw.decode("cp1251", "replace"))


__all__ = ["OriginateRequest", "Originator", "legacy_if_not_utf8", "parse_caller_id"]
