"""Whole calls, step by step, as the sample dialplan runs them on Asterisk 22.

* an inbound customer call: `Local/<number>@from-trunk` — MixMonitor, FastAGI route
  request, `Dial` of the routed agent, then the queue (ringing, answer, abandon, talk,
  hangup by either side, blind transfer);
* click-to-call: an Originate of the agent's interface first, then the customer;
* a supervisor's ChanSpy on an agent's call.

In PJSIP mode the same flows run with the customer on `PJSIP/trunk-…` and the agent on
`PJSIP/20X-…`: the engine models each leg as a pair still and leaves the hidden half out.

Each step writes its burst of events through :class:`~telephony.simpbx.engine.CallEngine`
and then waits for the next thing to happen (a timer, an agent answering, a Hangup
action). `call.wake` is set whenever something may have changed for the call.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telephony.simpbx import wire as w
from telephony.simpbx.agi import AgiCommand, run_fastagi
from telephony.simpbx.config import ASTERISK_VERSION
from telephony.simpbx.conversation import Conversation
from telephony.simpbx.engine import CallEngine, wait_until
from telephony.simpbx.model import HangupBy, Ring, SimAgent, SimCall, SimQueue
from telephony.simpbx.wire import UP, LegacyText, SimChannel

log = logging.getLogger(__name__)

# Called with the OriginateResponse frame (or None when the Originate came from nowhere).
OriginateReply = Callable[[bytes], None]


@dataclass(slots=True)
class OriginateInfo:
    action_id: str | None
    reply: OriginateReply
    context: str
    exten: str
    application: str = ""
    data: str = ""


def _like(name: str, text: str) -> str:
    """Text that embeds a caller name goes on the wire the way the name does."""
    return LegacyText(text) if isinstance(name, LegacyText) else text


def originate_response(
    info: OriginateInfo, ch: SimChannel | None, response: str, reason: int
) -> bytes:
    headers: list[tuple[str, str]] = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if info.action_id is not None:
        headers.append(("ActionID", info.action_id))
    headers += [("Response", response), ("Channel", ch.name if ch else info.exten)]
    if info.application:
        headers += [("Application", info.application), ("Data", info.data)]
    else:
        headers += [("Context", info.context), ("Exten", info.exten)]
    headers += [
        ("Reason", str(reason)),
        ("Uniqueid", ch.uniqueid if ch else "<unknown>"),
        ("CallerIDNum", (ch.cid_num or "<unknown>") if ch else "<unknown>"),
        ("CallerIDName", (ch.cid_name or "<unknown>") if ch else "<unknown>"),
    ]
    return w.frame(headers)


class Calls(Conversation):
    """Runs calls on an engine; one task per call, tracked in `engine.calls`."""

    def __init__(self, engine: CallEngine) -> None:
        self.e = engine
        self.requeue = self._queue

    # --- inbound -------------------------------------------------------------------
    def new_inbound(
        self,
        number: str,
        name: str,
        *,
        caller_number: str | None = None,
        patience: float,
        talk_time: float,
        hangup_by: HangupBy,
        queue: str,
        answered_by: str | None = None,
        transfer_to: str | None = None,
        originate: OriginateInfo | None = None,
    ) -> SimCall:
        from telephony.simpbx.model import IntendedCall

        one, two = self.e.local_pair(number, "from-trunk")
        called = number
        if self.e.config.pjsip:
            # The carrier's call lands in the trunk endpoint's context, on the dialled DID.
            two.context, two.exten = "from-trunk-trubka", self.e.config.trunk_did
            called = two.exten
        intended = IntendedCall(
            one.linkedid, caller_number or number, name or None, called_number=called
        )
        call = SimCall(
            one.linkedid,
            intended,
            one,
            two,
            patience=patience,
            talk_time=talk_time,
            hangup_by=hangup_by,
            answered_by=answered_by,
            transfer_to=transfer_to,
        )
        self.e.calls[call.linkedid] = call
        call.task = asyncio.get_running_loop().create_task(
            self._run(
                call, lambda: self._inbound(call, caller_number or number, name, queue, originate)
            ),
            name=f"simpbx-call-{call.linkedid}",
        )
        return call

    async def _run(self, call: SimCall, flow: Callable[[], Awaitable[None]]) -> None:
        """Run a call's flow; the coroutine is made here, so a call cancelled before it
        started (the PBX killed right after placing it) leaves no unawaited coroutine."""
        try:
            await flow()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("simulated PBX: call %s failed", call.linkedid)
        finally:
            self._finished(call)

    def _finished(self, call: SimCall) -> None:
        if self.e.calls.get(call.linkedid) is call:
            del self.e.calls[call.linkedid]
            call.intended.ended = True
            self.e.history.append(call.intended)
            self.e.processed_calls += 1

    async def _inbound(
        self,
        call: SimCall,
        number: str,
        name: str,
        queue_name: str,
        originate: OriginateInfo | None,
    ) -> None:
        e = self.e
        one, two = call.one, call.two
        assert two is not None
        pjsip = e.config.pjsip
        if pjsip:
            # The trunk's channel arrives with the caller ID exactly as the carrier sent
            # it: no NewCallerid on an inbound PJSIP call.
            two.cid_num, two.cid_name = number, name
        frames = [
            w.channel_event("Newchannel", one),
            e.cel(one, "CHAN_START"),
            w.channel_event("Newchannel", two),
            w.newexten(one, "AppDial2", "(Outgoing Line)"),
            w.varset(one, "PATIENCE", f"{call.patience:.0f}"),
        ]
        one.cid_num, one.cid_name = number, name
        frames.append(w.new_caller_id(one))
        one.conn_num, one.conn_name = number, name
        frames += [
            w.channel_event("NewConnectedLine", one),
            w.varset(two, "PATIENCE", f"{call.patience:.0f}"),
        ]
        if not pjsip:
            two.cid_num, two.cid_name = number, name
            two.conn_num, two.conn_name = number, name
            frames += [w.new_caller_id(two), w.channel_event("NewConnectedLine", two)]
        frames += [
            w.local_bridge(one, two),
            w.dial_event("DialBegin", None, one, ("DialString", f"{one.exten}@from-trunk")),
            e.cel(two, "CHAN_START"),
            w.newexten(two, "NoOp", f"Inbound PSTN call from {one.exten}"),
        ]
        two.priority = 2
        frames.append(w.newexten(two, "Set", f"CALLERID(num)={number}"))
        two.priority = 3
        if name:
            frames.append(w.newexten(two, "Set", _like(name, f"CALLERID(name)={name}")))
        else:
            frames.append(w.newexten(two, "NoOp", "no caller name from the trunk"))
        two.priority = 4
        frames += [
            w.newexten(two, "Set", "CHANNEL(hangup_handler_push)=crm-hangup,s,1"),
            w.channel_event(
                "HangupHandlerPush", two, ("Handler", "crm-hangup,s,1"), privilege="dialplan,all"
            ),
        ]
        two.priority = 5
        frames += [
            w.newexten(two, "Answer", ""),
            e.answer_channel(two),
            e.cel(two, "ANSWER", app="Answer"),
            e.cel(one, "ANSWER", app="AppDial2", data="(Outgoing Line)"),
            e.answer_channel(one),
            w.dial_event("DialEnd", None, one, ("DialStatus", "ANSWER")),
        ]
        one.context, one.exten, one.priority = "customer-sim", "s", 1
        frames.append(w.newexten(one, "Set", f"TIMEOUT(absolute)={call.patience:.0f}"))
        one.priority = 2
        frames.append(w.newexten(one, "Playback", "tt-monkeys"))
        self.e.emit(*frames)
        if originate is not None:
            originate.reply(originate_response(originate, one, "Success", 4))
        frames = []
        recording = f"{e.config.recordings_path}/{two.uniqueid}.wav"
        if e.config.record:
            two.priority = 6
            frames += [
                w.newexten(two, "MixMonitor", f"{recording},b"),
                e.cel(
                    one,
                    "STREAM_BEGIN",
                    app="Playback",
                    data="tt-monkeys",
                    ani=True,
                    extra=json.dumps(
                        {"sound": "tt-monkeys", "format": "slin", "language": "en"},
                        separators=(",", ":"),
                    ),
                ),
                e.cel(two, "APP_START", app="MixMonitor", data=f"{recording},b"),
                e.cel(two, "APP_END", app="MixMonitor", data=f"{recording},b"),
                w.varset(two, "MIXMONITOR_FILENAME", recording),
            ]
            call.intended.recording_file = recording.rsplit("/", 1)[-1]
        device = e.device_state(one.device, "INUSE", force=True)
        assert device is not None
        frames.append(device)
        if e.config.record:
            frames.append(w.channel_event("MixMonitorStart", two))
        two.priority = 7
        frames += [w.newexten(two, "Set", "ROUTE_AGENT="), w.varset(two, "ROUTE_AGENT", "")]
        self.e.emit(*frames)
        await self._step()
        await self._route(call, number, queue_name)
        await self._write_recording(call)

    async def _step(self) -> None:
        await asyncio.sleep(self.e.timing.step)

    # --- FastAGI -------------------------------------------------------------------
    async def _route(self, call: SimCall, number: str, queue_name: str) -> None:
        e = self.e
        two = call.two
        assert two is not None
        url = e.config.agi_url
        two.priority = 8
        data = f"{url or 'agi://127.0.0.1:4573/route'},{number}"
        e.emit(w.newexten(two, "AGI", data), e.cel(two, "APP_START", app="AGI", data=data))
        status = "FAILURE"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + e.timing.agi_timeout  # one budget for every host
        if url:
            status = await self._agi(call, url, number, e.timing.agi_timeout)
        e.emit(
            w.varset(two, "AGISTATUS", status),
            e.cel(two, "APP_END", app="AGI", data=data),
        )
        for fallback in e.config.agi_fallback_urls if url else ():
            if status != "FAILURE" or await self._caller_gone(call):
                break
            left = deadline - loop.time()
            e.emit(w.newexten(two, "GotoIf", f"{0 if left > 0 else 1}?agi-done"))
            if left <= 0:
                break
            data = f"{fallback},{number}"
            e.emit(w.newexten(two, "AGI", data), e.cel(two, "APP_START", app="AGI", data=data))
            status = await self._agi(call, fallback, number, left)
            e.emit(
                w.varset(two, "AGISTATUS", status),
                e.cel(two, "APP_END", app="AGI", data=data),
            )
        if await self._caller_gone(call):
            return
        route = two.variables.get("ROUTE_AGENT", "").strip()
        two.priority = 9
        frames = [w.newexten(two, "NoOp", f"AGISTATUS={status} ROUTE_AGENT={route}")]
        two.priority = 10
        frames.append(w.newexten(two, "GotoIf", f"{0 if route else 1}?queue"))
        e.emit(*frames)
        if route:
            call.intended.routed_agent = route
            timeout = _seconds(two.variables.get("ROUTE_TIMEOUT"), 20.0)
            status = await self._dial_agent(call, route, timeout)
            if status in ("ANSWER", "GONE"):
                return
            two.priority = 12
            e.emit(w.newexten(two, "NoOp", f"DIALSTATUS={status}"))
            two.priority = 13
            e.emit(w.newexten(two, "GotoIf", "0?done"))
        target = two.variables.get("TARGET_QUEUE") or queue_name
        queue = e.queues.get(target) or e.queues.get(e.config.default_queue)
        if queue is None:
            await self._caller_hangs_up_alone(call, "no such queue")
            return
        await self._queue(call, queue)

    async def _agi(self, call: SimCall, url: str, number: str, budget: float) -> str:
        e = self.e
        two = call.two
        assert two is not None
        env: list[tuple[str, str | bytes]] = [
            ("agi_network", "yes"),
            ("agi_network_script", url.split("/", 3)[-1] if url.count("/") >= 3 else ""),
            ("agi_request", url),
            ("agi_channel", two.name),
            ("agi_language", "en"),
            ("agi_type", "PJSIP" if e.config.pjsip else "Local"),
            ("agi_uniqueid", two.uniqueid),
            ("agi_version", ASTERISK_VERSION),
            ("agi_callerid", two.cid_num or "unknown"),
            ("agi_calleridname", w.encode_value(two.cid_name) if two.cid_name else b"unknown"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", two.exten if e.config.pjsip else "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", two.context),
            ("agi_extension", two.exten),
            ("agi_priority", str(two.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", str(e.rng.randrange(10**14, 10**15))),
            ("agi_arg_1", number),
        ]
        command_ids: dict[str, str] = {}

        def get(name: str) -> str | None:
            key = name.upper()
            if key == "UNIQUEID":
                return two.uniqueid
            if key == "CALLERID(NUM)":
                return two.cid_num or None
            if key == "CALLERID(NAME)":
                return two.cid_name or None
            if key == "CHANNEL(LINKEDID)":
                return two.linkedid
            if key == "CHANNEL":
                return two.name
            if key == "EXTEN":
                return two.exten
            return two.variables.get(name, e.global_vars.get(name))

        def set_(name: str, value: str) -> None:
            key = name.upper()
            if key == "CALLERID(NAME)":
                two.cid_name = value
                two.conn_name = value
                call.intended.caller_name = value or None
                e.emit(w.new_caller_id(two))
            elif key == "CALLERID(NUM)":
                two.cid_num = value
                e.emit(w.new_caller_id(two))
            else:
                e.emit(w.varset(two, name, value))

        def observe(text: str, command: AgiCommand | None) -> None:
            if command is None:
                command_ids[text] = str(e.rng.randrange(10**6, 2 * 10**9))
                e.emit(
                    w.channel_event(
                        "AGIExecStart",
                        two,
                        ("CommandId", command_ids[text]),
                        ("Command", text),
                        privilege="agi,all",
                    )
                )
                return
            result = "Success" if command.code == 200 else command.result
            e.emit(
                w.channel_event(
                    "AGIExecEnd",
                    two,
                    ("CommandId", command_ids.pop(text, "0")),
                    ("Command", text),
                    ("ResultCode", str(command.code)),
                    ("Result", result),
                    privilege="agi,all",
                )
            )

        outcome = await run_fastagi(url, env, get, set_, observe, timeout=budget)
        if outcome.error:
            # Once per kind of failure: a demo without an AGI server would repeat it per call.
            level = logging.DEBUG if outcome.error == e.last_agi_error else logging.INFO
            log.log(
                level, "simulated PBX: FastAGI %s: %s; calls go on to the queue", url, outcome.error
            )
        e.last_agi_error = outcome.error
        return outcome.status if outcome.status != "HANGUP" else "SUCCESS"

    # --- the routed agent ----------------------------------------------------------
    def _answer_at(self, call: SimCall, agent: SimAgent, now: float) -> float | None:
        t = self.e.timing
        if not agent.answers:
            return None
        if call.answered_by is not None:
            if call.answered_by != agent.number:
                return None
        elif self.e.rng.random() < t.no_answer_share:
            return None
        delay = agent.config.answer_delay
        if delay is None:
            delay = self.e.rng.uniform(*t.answer_delay)
        return now + delay

    async def _dial_agent(self, call: SimCall, route: str, timeout: float) -> str:
        """`Dial(ROUTE_AGENT,timeout)`: ANSWER (and the call ran to its end), GONE, or why not."""
        e = self.e
        two = call.two
        assert two is not None
        two.priority = 11
        frames = [w.newexten(two, "Dial", f"{route},{timeout:.0f}")]
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
            frames.append(w.varset(two, var, ""))
        e.emit(*frames)
        interface = route
        agent = e.agent_for_interface(interface)
        if agent is None or not agent.registered:
            # An unregistered phone: no channel, no DialBegin, only the status.
            e.emit(w.varset(two, "DIALSTATUS", "CHANUNAVAIL"))
            return "CHANUNAVAIL"
        if agent.busy():
            e.emit(w.varset(two, "DIALSTATUS", "BUSY"))
            return "BUSY"
        if interface.startswith("Local/") and not interface.endswith("/n"):
            interface += "/n"
        now = e.clock()
        ring = e.start_ring(
            call,
            agent,
            queue=None,
            interface=interface,
            answer_at=self._answer_at(call, agent, now),
        )
        end = now + timeout
        while True:
            now = e.clock()
            if call.hangup_request is not None or now >= call.one.created + call.patience:
                await self._caller_abandons(call, None)
                return "GONE"
            if ring.answer_at is not None and now >= ring.answer_at:
                e.answer_ring(call, ring)
                call.intended.agent_interface = interface.removesuffix("/n")
                await self._talk(call, None)
                return "ANSWER"
            if now >= end:
                e.end_ring(call, ring, "NOANSWER", no_answer=True)
                e.emit(w.varset(two, "DIALSTATUS", "NOANSWER"))
                return "NOANSWER"
            deadline = min(end, call.one.created + call.patience)
            if ring.answer_at is not None:
                deadline = min(deadline, ring.answer_at)
            await wait_until(e, call, deadline)

    # --- the queue -----------------------------------------------------------------
    def _may_ring(self, queue: SimQueue, call: SimCall) -> bool:
        """autofill=yes: a caller rings once everyone ahead of it rings someone."""
        for entry in queue.waiting:
            if entry.call is call:
                return True
            if not entry.call.rings:
                return False
        return False

    def _pick(self, queue: SimQueue, call: SimCall) -> list[tuple[SimAgent, str]]:
        e = self.e
        members = e.members_of(queue.name)
        free = [(i, m) for i, m in enumerate(members) if e.rings_now(queue.name, m)]
        if not free:
            return []
        if queue.config.strategy == "ringall":
            chosen = [m for _, m in free]
        else:
            after = [(i, m) for i, m in free if i > queue.last_rung]
            index, member = (after or free)[0]
            queue.last_rung = index
            chosen = [member]
        picked = []
        for member in chosen:
            agent = e.agent_for_interface(member.interface)
            if agent is not None:
                picked.append((agent, member.interface))
        return picked

    async def _queue(self, call: SimCall, queue: SimQueue) -> None:
        e = self.e
        two = call.two
        assert two is not None
        data = f"{queue.name},,,,{queue.config.max_wait:.0f}"
        two.priority = 14
        e.emit(
            e.cel(two, "APP_START", app="Queue", data=data),
            e.cel(two, "STREAM_BEGIN", app="Queue", data=data),
            w.newexten(two, "Queue", data),
        )
        e.join_queue(call, queue)
        give_up = call.one.created + call.patience
        leave_at = e.clock() + queue.config.max_wait
        next_try = e.clock()
        while True:
            now = e.clock()
            if call.hangup_request is not None or now >= give_up:
                await self._caller_abandons(call, queue)
                return
            if now >= leave_at:
                await self._queue_timeout(call, queue)
                return
            if call.rings:
                answering = [r for r in call.rings if r.answer_at is not None]
                first = min(answering, key=lambda r: r.answer_at or 0.0) if answering else None
                if first is not None and first.answer_at is not None and now >= first.answer_at:
                    e.answer_ring(call, first)
                    await self._talk(call, queue)
                    return
                ring_end = min(r.started for r in call.rings) + queue.config.timeout
                if now >= ring_end:
                    for ring in list(call.rings):
                        e.end_ring(call, ring, "NOANSWER", no_answer=True)
                    next_try = now + queue.config.retry
                    continue
                deadline = min(give_up, leave_at, ring_end)
                if first is not None and first.answer_at is not None:
                    deadline = min(deadline, first.answer_at)
            else:
                if now >= next_try and self._may_ring(queue, call):
                    picked = self._pick(queue, call)
                    if picked:
                        for agent, interface in picked:
                            e.start_ring(
                                call,
                                agent,
                                queue=queue.name,
                                interface=interface,
                                answer_at=self._answer_at(call, agent, now),
                            )
                        continue
                retry = next_try if next_try > now else now + queue.config.retry
                deadline = min(give_up, leave_at, retry)
            await wait_until(e, call, deadline)


def _seconds(value: str | None, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


__all__ = ["UP", "Calls", "OriginateInfo", "Ring", "wait_until"]
