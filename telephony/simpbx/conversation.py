"""How a call goes on after it reached someone, and every way it ends: the conversation,
a blind transfer, the caller or the agent hanging up, abandoning, Queue() timing out,
and the recording it leaves (a mixin of :class:`~telephony.simpbx.calls.Calls`).

The sequences follow the traces: 01 (the caller hangs up while bridged), 05 (the agent
hangs up), 02/02b (abandons), the crm-hangup handler on the customer's `;2` half.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from telephony.simpbx import wire as w
from telephony.simpbx.engine import CallEngine, wait_until
from telephony.simpbx.model import HangupBy, SimCall, SimQueue
from telephony.simpbx.recordings import write_recording

log = logging.getLogger(__name__)


class Conversation:
    e: CallEngine
    # Queue() for a caller (the call flows' own, given by `Calls`): a blind transfer to a
    # queue's name in the queue-transfer context puts the caller back in a queue.
    requeue: Callable[[SimCall, SimQueue], Awaitable[None]]

    async def _queue_timeout(self, call: SimCall, queue: SimQueue) -> None:
        """Queue(...,maxwait) ran out: the caller leaves with QUEUESTATUS=TIMEOUT."""
        e = self.e
        two = call.two
        assert two is not None
        for ring in list(call.rings):
            e.end_ring(call, ring, "CANCEL", no_answer=False)
        position = e.leave_queue(call, queue)
        frames = [w.channel_event("MusicOnHoldStop", two)]
        frame = e.device_state(f"Queue:{queue.name}", "RINGING" if queue.waiting else "NOT_INUSE")
        if frame is not None:
            frames.append(frame)
        frames.append(
            e.queue_caller("QueueCallerLeave", call, queue.name, position, len(queue.waiting))
        )
        two.variables["QUEUESTATUS"] = "TIMEOUT"
        frames.append(w.varset(two, "QUEUESTATUS", "TIMEOUT"))
        two.priority = 15
        frames.append(w.newexten(two, "NoOp", "QUEUESTATUS=TIMEOUT"))
        two.priority = 16
        frames.append(w.newexten(two, "Hangup", ""))
        e.emit(*frames)
        call.intended.disposition = "no-answer"
        self._hangup_pair_from_dialplan(call)
        e.wake_waiting()

    async def _caller_gone(self, call: SimCall) -> bool:
        if call.hangup_request is None and self.e.clock() < call.one.created + call.patience:
            return False
        await self._caller_hangs_up_alone(call, "hung up")
        return True

    async def _caller_hangs_up_alone(self, call: SimCall, why: str) -> None:
        """The caller hangs up before the call reached a queue or an agent."""
        self._customer_hangs_up(call)
        call.intended.disposition = "abandoned" if why == "hung up" else "failed"
        self._customer_two_ends(call)

    # --- pieces of hanging up ------------------------------------------------------
    def _customer_hangs_up(self, call: SimCall, cause: int = 16) -> None:
        """The customer's phone (`;1`) hangs up; HangupRequest reaches the `;2` half."""
        e = self.e
        one, two = call.one, call.two
        assert two is not None
        frames = [
            e.cel(one, "STREAM_END", app="Playback", data="tt-monkeys"),
            w.varset(one, "PLAYBACKSTATUS", "SUCCESS"),
            e.cel(
                one,
                "HANGUP",
                app="AppDial2",
                data="(Outgoing Line)",
                ani=True,
                extra=json.dumps(
                    {"hangupcause": cause, "hangupsource": "dialplan/builtin", "dialstatus": ""},
                    separators=(",", ":"),
                ),
            ),
            e.cel(one, "CHAN_END", app="AppDial2", data="(Outgoing Line)", ani=True),
        ]
        one.exten, one.priority = "T", 1
        frames.append(w.newexten(one, "NoOp", f"customer hangs up after {call.patience:.0f}s"))
        one.priority = 2
        frames += [
            w.newexten(one, "Hangup", ""),
            w.channel_event("SoftHangupRequest", one, ("Cause", str(cause))),
            w.channel_event("HangupRequest", two, ("Cause", str(cause))),
        ]
        e.emit(*frames)

    def _customer_two_ends(self, call: SimCall, *, extra: list[bytes] | None = None) -> None:
        """The `;1` half is gone: `;2` runs the hangup handler and hangs up too."""
        e = self.e
        one, two = call.one, call.two
        assert two is not None
        frames = [w.hangup(one, 16)] if not one.hung_up else []
        e.drop_channel(one)
        frames += [
            w.cdr(
                one,
                destination="T",
                dest_context="customer-sim",
                dest_channel="",
                last_app="Hangup",
                last_data="",
                answered=one.answered,
                now=e.clock(),
            ),
        ]
        frames += extra or []
        frames += [
            w.channel_event("SoftHangupRequest", two, ("Cause", "16")),
            w.channel_event(
                "HangupHandlerRun", two, ("Handler", "crm-hangup,s,1"), privilege="dialplan,all"
            ),
        ]
        frames += e.hangup_handler(two, call)
        frames += [
            e.cel(two, "HANGUP", ani=True),
            e.cel(two, "CHAN_END", ani=True),
            w.hangup(two, 16),
        ]
        e.drop_channel(two)
        device = e.device_state(call.one.device, "NOT_INUSE", force=True)
        assert device is not None
        frames += [
            device,
            w.cdr(
                two,
                destination=two.variables.get("EXTEN", call.intended.caller_number),
                dest_context="from-trunk",
                dest_channel=call.agent_one.name if call.agent_one else "",
                last_app=two.app,
                last_data=two.app_data,
                answered=two.answered,
                now=e.clock(),
            ),
            e.cel(one, "LINKEDID_END", app="AppDial2", data="(Outgoing Line)"),
        ]
        e.emit(*frames)

    def _hangup_pair_from_dialplan(self, call: SimCall) -> None:
        """`;2` runs Hangup() (after a queue timeout or a failed dial): both halves go."""
        e = self.e
        one, two = call.one, call.two
        assert two is not None
        e.emit(
            w.channel_event("SoftHangupRequest", two, ("Cause", "16")),
            w.channel_event("HangupRequest", one, ("Cause", "16")),
        )
        self._customer_two_ends(call)

    async def _caller_abandons(self, call: SimCall, queue: SimQueue | None) -> None:
        """The caller gives up while waiting (in the queue, or while a routed agent rings)."""
        e = self.e
        two = call.two
        assert two is not None
        now = e.clock()
        self._customer_hangs_up(call)
        frames = [w.hangup(call.one, 16)]
        call.one.hung_up = True
        if queue is not None:
            frames.append(w.channel_event("MusicOnHoldStop", two))
        e.emit(*frames)
        for ring in list(call.rings):
            e.end_ring(call, ring, "CANCEL", no_answer=False)
        extra: list[bytes] = []
        if queue is not None:
            hold = now - (call.queue_joined or now)
            waited = now - call.one.created
            extra += [
                w.varset(two, "QUEUEWAIT", str(int(hold))),
                w.varset(two, "QUEUEWAIT_MS", str(int(hold * 1000))),
                w.varset(two, "DIALEDTIME", str(int(waited))),
                w.varset(two, "DIALEDTIME_MS", str(int(waited * 1000))),
                w.varset(two, "ANSWEREDTIME", "0"),
                w.varset(two, "ANSWEREDTIME_MS", "0"),
                w.varset(two, "ABANDONED", "TRUE"),
            ]
            position = e.leave_queue(call, queue)
            extra.append(
                w.frame(
                    [
                        ("Event", "QueueCallerAbandon"),
                        ("Privilege", "agent,all"),
                        *two.block(),
                        ("Queue", queue.name),
                        ("Position", str(position)),
                        ("OriginalPosition", str(position)),
                        ("HoldTime", str(int(hold))),
                    ]
                )
            )
            frame = e.device_state(
                f"Queue:{queue.name}", "RINGING" if queue.waiting else "NOT_INUSE"
            )
            if frame is not None:
                extra.append(frame)
            extra.append(
                e.queue_caller("QueueCallerLeave", call, queue.name, position, len(queue.waiting))
            )
            extra.append(w.varset(two, "QUEUEPOSITION", str(position)))
            queue.abandoned += 1
        else:
            extra.append(w.varset(two, "DIALSTATUS", "CANCEL"))
        call.intended.disposition = "abandoned"
        self._customer_two_ends(call, extra=extra)
        e.wake_waiting()

    # --- talking -------------------------------------------------------------------
    async def _talk(self, call: SimCall, queue: SimQueue | None) -> None:
        e = self.e
        assert call.answered_at is not None
        end = call.answered_at + call.talk_time
        while True:
            now = e.clock()
            transfer_at: float | None = None
            if call.transfer_to:
                transfer_at = call.transfer_at or call.answered_at + call.talk_time / 2
            if call.hangup_request is not None:
                channel, cause = call.hangup_request
                call.hangup_request = None
                if channel in (call.agent_one, call.agent_two):
                    self._agent_hangs_up(call, queue, cause)
                else:
                    self._caller_hangs_up_bridged(call, queue, cause)
                return
            if transfer_at is not None and now >= transfer_at:
                target = call.transfer_to
                assert target is not None
                call.transfer_to = call.transfer_at = None
                await self._blind_transfer(call, queue, target)
                return
            if now >= end:
                if call.hangup_by is HangupBy.AGENT:
                    self._agent_hangs_up(call, queue, 16)
                else:
                    self._caller_hangs_up_bridged(call, queue, 16)
                return
            await wait_until(e, call, min(end, transfer_at) if transfer_at is not None else end)

    def _agent_complete(self, call: SimCall, queue: SimQueue | None, reason: str) -> list[bytes]:
        e = self.e
        two, one = call.two, call.agent_one
        if queue is None or two is None or one is None or call.agent is None:
            return []
        now = e.clock()
        hold = (call.answered_at or now) - (call.queue_joined or now)
        talk = now - (call.answered_at or now)
        member = e.member(queue.name, call.agent.config.interface)
        queue.completed += 1
        queue.talk_total += talk
        return [
            w.frame(
                [
                    ("Event", "AgentComplete"),
                    ("Privilege", "agent,all"),
                    *two.block(),
                    *one.block("Dest"),
                    ("Queue", queue.name),
                    ("Interface", member.interface if member else call.agent.config.interface),
                    ("MemberName", member.name if member else call.agent.name),
                    ("HoldTime", str(round(hold))),
                    ("TalkTime", str(round(talk))),
                    ("Reason", reason),
                ]
            )
        ]

    def _answered_vars(self, call: SimCall) -> list[bytes]:
        e = self.e
        two = call.two
        assert two is not None
        now = e.clock()
        talk = now - (call.answered_at or now)
        dialed = now - (call.queue_joined or call.answered_at or now)
        return [
            w.varset(two, "ANSWEREDTIME", str(int(talk))),
            w.varset(two, "ANSWEREDTIME_MS", str(int(talk * 1000))),
            w.varset(two, "DIALEDTIME", str(int(dialed))),
            w.varset(two, "DIALEDTIME_MS", str(int(dialed * 1000))),
        ]

    def _agent_leaves(self, call: SimCall, queue: SimQueue | None) -> None:
        """The agent is off this call: free again after the queue's wrap-up time."""
        e = self.e
        agent = call.agent
        if agent is None:
            return
        now = e.clock()
        agent.on_call = None
        agent.wrapup_until = now + (queue.config.wrapup if queue is not None else 0.0)
        for member in e.memberships(agent):
            if queue is not None and member.queue == queue.name:
                member.calls_taken += 1
                member.last_call = int(now)
        call.intended.talk_seconds = now - (call.answered_at or now)
        e.agent_changed(agent)
        if agent.wrapup_until > now:
            asyncio.get_running_loop().call_later(agent.wrapup_until - now + 0.001, e.wake_waiting)

    def _caller_hangs_up_bridged(self, call: SimCall, queue: SimQueue | None, cause: int) -> None:
        e = self.e
        two, a1, a2 = call.two, call.agent_one, call.agent_two
        assert two is not None and a1 is not None and a2 is not None
        bridge = call.bridge_id  # "" while on hold: both sides are out of the bridge
        frames = (
            [
                e.cel(
                    two,
                    "BRIDGE_EXIT",
                    app=two.app,
                    data=two.app_data,
                    peer=a1.name,
                    extra=json.dumps(
                        {"bridge_id": bridge, "bridge_technology": "simple_bridge"},
                        separators=(",", ":"),
                    ),
                ),
            ]
            if bridge
            else []
        )
        if queue is not None:
            frames.append(e.cel(two, "APP_END", app="Queue", data=two.app_data))
        e.emit(*frames)
        self._customer_hangs_up(call, cause)
        frames = self._agent_complete(call, queue, "caller")
        frames.append(w.hangup(call.one, cause))
        call.one.hung_up = True
        if bridge:
            frames += [
                w.varset(two, "BRIDGEPEER", ""),
                w.varset(a1, "BRIDGEPEER", ""),
                w.bridge_event("BridgeLeave", bridge, 1, two),
            ]
        two.bridge_id = ""
        extra = self._answered_vars(call)
        if queue is None:
            extra.append(w.varset(two, "DIALSTATUS", "ANSWER"))
        e.emit(*frames)
        self._customer_two_ends(call, extra=extra)
        frames = [
            *([w.bridge_event("BridgeLeave", bridge, 0, a1)] if bridge else []),
            w.channel_event("HangupRequest", a2, ("Cause", str(cause))),
            w.hangup(a1, cause),
            *([w.bridge_event("BridgeDestroy", bridge, 0)] if bridge else []),
            e.cel(a2, "STREAM_END", app="Playback", data=a2.app_data),
            e.cel(a2, "HANGUP", ani=True),
            e.cel(a2, "CHAN_END", ani=True),
            e.cel(a2, "LINKEDID_END"),
            w.cdr(
                a2,
                destination=call.agent.number if call.agent else "",
                dest_context="agents",
                dest_channel="",
                last_app="Playback",
                last_data=a2.app_data,
                answered=a2.answered,
                now=e.clock(),
            ),
            w.varset(a2, "PLAYBACKSTATUS", "SUCCESS"),
            w.channel_event("SoftHangupRequest", a2, ("Cause", str(cause))),
            w.hangup(a2, cause),
        ]
        e.drop_channel(a1)
        e.drop_channel(a2)
        e.emit(*frames)
        self._agent_leaves(call, queue)

    def _agent_hangs_up(self, call: SimCall, queue: SimQueue | None, cause: int) -> None:
        e = self.e
        one, two, a1, a2 = call.one, call.two, call.agent_one, call.agent_two
        assert two is not None and a1 is not None and a2 is not None
        bridge = call.bridge_id
        frames = [
            e.cel(a2, "STREAM_END", app="Playback", data=a2.app_data),
            w.varset(a2, "PLAYBACKSTATUS", "SUCCESS"),
        ]
        a2.priority = 7
        frames.append(w.newexten(a2, "Wait", "5"))
        a2.priority = 8
        frames += [
            w.newexten(a2, "Hangup", ""),
            w.channel_event("SoftHangupRequest", a2, ("Cause", str(cause))),
            w.channel_event("HangupRequest", a1, ("Cause", str(cause))),
            w.hangup(a2, cause),
            e.cel(a2, "HANGUP", ani=True),
            e.cel(a2, "CHAN_END", ani=True),
        ]
        e.drop_channel(a2)
        frames += self._agent_complete(call, queue, "agent")
        if bridge:
            frames += [
                w.varset(a1, "BRIDGEPEER", ""),
                w.varset(two, "BRIDGEPEER", ""),
                e.cel(a1, "BRIDGE_EXIT", app=a1.app, data=a1.app_data, peer=two.name),
            ]
        frames += [
            e.cel(a1, "HANGUP", app=a1.app, data=a1.app_data),
            e.cel(a1, "CHAN_END", app=a1.app, data=a1.app_data),
            *([w.bridge_event("BridgeLeave", bridge, 1, a1)] if bridge else []),
            w.hangup(a1, cause),
        ]
        if bridge:  # "" while on hold: both sides are out of the bridge
            frames += [
                e.cel(two, "BRIDGE_EXIT", app=two.app, data=two.app_data, peer=a1.name),
                w.bridge_event("BridgeLeave", bridge, 0, two),
                w.bridge_event("BridgeDestroy", bridge, 0),
            ]
        e.drop_channel(a1)
        two.bridge_id = ""
        frames += self._answered_vars(call)
        if queue is None:
            frames.append(w.varset(two, "DIALSTATUS", "ANSWER"))
            two.priority = 12
            frames.append(w.newexten(two, "NoOp", "DIALSTATUS=ANSWER"))
            two.priority = 13
            frames.append(w.newexten(two, "GotoIf", "1?done"))
            two.priority = 16
            frames.append(w.newexten(two, "Hangup", ""))
        e.emit(*frames)
        self._agent_leaves(call, queue)
        e.emit(
            w.channel_event("SoftHangupRequest", two, ("Cause", "16")),
            w.channel_event("HangupRequest", one, ("Cause", "16")),
            w.varset(one, "PLAYBACKSTATUS", "SUCCESS"),
            w.channel_event("SoftHangupRequest", one, ("Cause", "16")),
        )
        frames = [
            w.channel_event(
                "HangupHandlerRun", two, ("Handler", "crm-hangup,s,1"), privilege="dialplan,all"
            ),
            *e.hangup_handler(two, call),
            e.cel(two, "HANGUP", ani=True),
            e.cel(two, "CHAN_END", ani=True),
            w.hangup(two, 16),
        ]
        e.drop_channel(two)
        frames += [
            w.cdr(
                one,
                destination="s",
                dest_context="customer-sim",
                dest_channel="",
                last_app="Playback",
                last_data="tt-monkeys",
                answered=one.answered,
                now=e.clock(),
            ),
            w.hangup(one, 16),
            e.cel(one, "HANGUP", app="AppDial2", data="(Outgoing Line)"),
            e.cel(one, "CHAN_END", app="AppDial2", data="(Outgoing Line)"),
            e.cel(one, "LINKEDID_END", app="AppDial2", data="(Outgoing Line)"),
        ]
        e.drop_channel(one)
        device = e.device_state(call.one.device, "NOT_INUSE", force=True)
        assert device is not None
        frames.append(device)
        e.emit(*frames)

    async def _blind_transfer(self, call: SimCall, queue: SimQueue | None, target: str) -> None:
        """The agent blind-transfers the caller to extension `target` (another agent)."""
        e = self.e
        two, a1, a2 = call.two, call.agent_one, call.agent_two
        assert two is not None and a1 is not None and a2 is not None
        bridge = call.bridge_id
        context = call.transfer_context or "transfer"
        external = "Yes" if call.transfer_external else "No"
        call.transfer_context, call.transfer_external = None, False
        frames = (
            []
            if call.redirected
            else [
                w.frame(
                    [
                        ("Event", "BlindTransfer"),
                        ("Privilege", "call,all"),
                        ("Result", "Success"),
                        *a1.block("Transferer"),
                        *two.block("Transferee"),
                        *w.bridge_headers(bridge, 2),
                        ("IsExternal", external),
                        ("Context", context),
                        ("Extension", target),
                    ]
                )
            ]
        )
        frames += self._agent_complete(call, queue, "transfer")
        frames += [
            w.varset(a1, "BRIDGEPEER", ""),
            w.varset(two, "BRIDGEPEER", ""),
            w.bridge_event("BridgeLeave", bridge, 1, two),
            w.bridge_event("BridgeLeave", bridge, 0, a1),
            w.bridge_event("BridgeDestroy", bridge, 0),
            w.channel_event("HangupRequest", a2, ("Cause", "16")),
            w.hangup(a1, 16),
            w.channel_event("SoftHangupRequest", a2, ("Cause", "16")),
            w.hangup(a2, 16),
        ]
        two.bridge_id = ""
        e.drop_channel(a1)
        e.drop_channel(a2)
        e.emit(*frames)
        first_answer = call.answered_at or e.clock()
        talked = e.clock() - first_answer
        self._agent_leaves(call, queue)
        interface = f"PJSIP/{target}" if e.config.pjsip else f"Local/{target}@agents/n"
        call.intended.transferred_to = interface.removesuffix("/n")
        call.agent = None
        call.agent_one = call.agent_two = None
        call.answered_at = None
        remaining = max(0.0, call.talk_time - talked)
        two.context, two.exten, two.priority = context, target, 1
        if context == e.config.queue_transfer_context and target in e.queues:
            # `exten => _[A-Za-z0-9].,1,…` then `Queue(${EXTEN})` (asterisk_conf/): the
            # caller waits in that queue again, as patient as when they called.
            call.intended.transferred_to = target
            e.emit(w.newexten(two, "NoOp", f"Transferred to queue {target}"))
            call.patience += e.clock() - call.one.created
            call.talk_time = remaining
            await self.requeue(call, e.queues[target])
            return
        agent = e.agent_for_interface(interface)
        e.emit(w.newexten(two, "Dial", f"{interface},20"))
        if agent is None or agent.busy():
            two.priority = 2
            e.emit(w.varset(two, "DIALSTATUS", "BUSY"), w.newexten(two, "Hangup", ""))
            self._hangup_pair_from_dialplan(call)
            return
        now = e.clock()
        answer_at = (
            now + (agent.config.answer_delay or e.timing.answer_delay[0]) if agent.answers else None
        )
        ring = e.start_ring(call, agent, queue=None, interface=interface, answer_at=answer_at)
        end = now + 20.0
        while True:
            now = e.clock()
            if call.hangup_request is not None:
                call.hangup_request = None
                e.end_ring(call, ring, "CANCEL", no_answer=False)
                self._hangup_pair_from_dialplan(call)
                return
            if ring.answer_at is not None and now >= ring.answer_at:
                e.answer_ring(call, ring)
                call.talk_time = remaining
                await self._talk(call, None)
                # One conversation from the first answer to the end, transfer included.
                call.intended.talk_seconds = e.clock() - first_answer
                return
            if now >= end:
                e.end_ring(call, ring, "NOANSWER", no_answer=True)
                two.priority = 2
                e.emit(w.newexten(two, "Hangup", ""))
                self._hangup_pair_from_dialplan(call)
                return
            await wait_until(
                e, call, min(end, ring.answer_at) if ring.answer_at is not None else end
            )

    async def _write_recording(self, call: SimCall) -> None:
        e = self.e
        spool = e.config.spool_dir
        if spool is None or not e.config.record or call.two is None:
            return
        seconds = call.intended.talk_seconds if call.intended.disposition == "answered" else 0.0
        path = Path(spool) / f"{call.two.uniqueid}.wav"
        try:
            await asyncio.to_thread(write_recording, path, seconds)
        except OSError as exc:
            log.warning("simulated PBX: cannot write recording %s: %s", path, exc)
