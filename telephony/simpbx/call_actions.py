"""The simulated PBX's call and queue-member actions: Originate, Hangup, Redirect
(a transfer, or hold), Bridge (back from hold), BlindTransfer, Setvar/Getvar,
StopMixMonitor, QueuePause/QueueAdd/QueueRemove
(a mixin of :class:`~telephony.simpbx.server.AmiServer`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from telephony.simpbx import wire as w
from telephony.simpbx.calls import OriginateInfo, originate_response
from telephony.simpbx.engine import CallEngine
from telephony.simpbx.model import SimCall, SimMember
from telephony.simpbx.originate import OriginateRequest, Originator
from telephony.simpbx.session import Action, Session, split_app_args


class CallActions:
    engine: CallEngine
    originator: Originator
    reply: Callable[[Session, bytes], None]

    async def _originate(self, session: Session, action: Action) -> None:
        aid = action.action_id
        variables: dict[str, str] = {}
        for item in action.get_all("variable"):
            for part in split_app_args(item):
                key, sep, value = part.partition("=")
                if sep:
                    variables[key.strip()] = value
        try:
            timeout = float(action.get("timeout", "30000")) / 1000.0
        except ValueError:
            timeout = 30.0
        request = OriginateRequest(
            channel=action.get("channel"),
            context=action.get("context"),
            exten=action.get("exten"),
            application=action.get("application"),
            data=action.get("data"),
            caller_id=action.get("callerid"),
            timeout=timeout,
            variables=variables,
            channel_id=action.get("channelid") or None,
            other_channel_id=action.get("otherchannelid") or None,
        )
        is_async = action.get("async").lower() in ("true", "yes", "1")
        if is_async:
            info = OriginateInfo(
                aid,
                self.engine.emit,
                request.context,
                request.exten,
                request.application,
                request.data,
            )
            self.reply(
                session, w.response(aid, "Success", ("Message", "Originate successfully queued"))
            )
            if not self.originator.start(request, info):
                info.exten = request.channel
                self.engine.emit(originate_response(info, None, "Failure", 0))
            return
        outcome: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        def resolve(frame: bytes) -> None:
            if not outcome.done():
                outcome.set_result(frame)

        info = OriginateInfo(
            aid, resolve, request.context, request.exten, request.application, request.data
        )
        if not self.originator.start(request, info):
            self.reply(session, w.response(aid, "Error", ("Message", "Originate failed")))
            return
        try:
            async with asyncio.timeout(timeout + 5.0):
                frame = await outcome
        except TimeoutError:
            frame = b"Response: Failure"
        if b"Response: Success" in frame:
            self.reply(
                session, w.response(aid, "Success", ("Message", "Originate successfully queued"))
            )
        else:
            self.reply(session, w.response(aid, "Error", ("Message", "Originate failed")))

    def _hangup(self, session: Session, action: Action) -> None:
        aid = action.action_id
        ch = self.engine.find_channel(action.get("channel"))
        if ch is None:
            self.reply(session, w.response(aid, "Error", ("Message", "No such channel")))
            return
        try:
            cause = int(action.get("cause", "16") or 16)
        except ValueError:
            cause = 16
        call = self.engine.call_of(ch)
        if call is not None:
            call.hangup_request = (ch, cause)
            call.wake.set()
        self.reply(session, w.response(aid, "Success", ("Message", "Channel Hungup")))

    def _redirect(self, session: Session, action: Action) -> None:
        aid = action.action_id
        ch = self.engine.find_channel(action.get("channel"))
        if ch is None:
            self.reply(session, w.response(aid, "Error", ("Message", "No such channel")))
            return
        call = self.engine.call_of(ch)
        exten = action.get("exten")
        if (
            call is not None
            and action.get("context") == self.engine.config.hold_context
            and call.bridge_id
            and call.two is not None
            and call.agent_one is not None
            and ch in (call.two, call.agent_one)
        ):
            self.reply(session, w.response(aid, "Success", ("Message", "Redirect successful")))
            self._hold(call)
            return
        if call is None or call.agent_one is None or call.two is None or not exten:
            self.reply(session, w.response(aid, "Error", ("Message", "Redirect failed")))
            return
        call.transfer_to = exten
        call.transfer_at = time.time()
        call.redirected = True
        call.wake.set()
        self.reply(session, w.response(aid, "Success", ("Message", "Redirect successful")))

    def _hold(self, call: SimCall) -> None:
        """Both sides leave their bridge for the hold context: the caller hears music on
        hold (`s`), the agent's side waits (`agent`)."""
        two, a1 = call.two, call.agent_one
        assert two is not None and a1 is not None
        bridge = call.bridge_id
        frames = [
            w.varset(two, "BRIDGEPEER", ""),
            w.varset(a1, "BRIDGEPEER", ""),
            w.bridge_event("BridgeLeave", bridge, 1, two),
            w.bridge_event("BridgeLeave", bridge, 0, a1),
            w.bridge_event("BridgeDestroy", bridge, 0),
        ]
        call.bridge_id = two.bridge_id = a1.bridge_id = ""
        context = self.engine.config.hold_context
        two.context, two.exten, two.priority = context, "s", 1
        frames += [
            w.newexten(two, "MusicOnHold", ""),
            w.channel_event("MusicOnHoldStart", two, ("Class", "default")),
        ]
        a1.context, a1.exten, a1.priority = context, "agent", 1
        frames.append(w.newexten(a1, "Wait", "3600"))
        call.held = True
        self.engine.emit(*frames)

    def _bridge(self, session: Session, action: Action) -> None:
        """AMI `Bridge` of two channels in the dialplan; the simulated PBX joins a held
        caller and agent again (what unhold asks)."""
        aid = action.action_id
        names = action.get("channel1"), action.get("channel2")
        found = []
        for i, name in enumerate(names, 1):
            ch = self.engine.find_channel(name)
            if ch is None:
                self.reply(
                    session,
                    w.response(aid, "Error", ("Message", f"Channel{i} does not exist: {name}")),
                )
                return
            found.append(ch)
        call = self.engine.call_of(found[0])
        if (
            call is None
            or not call.held
            or call.two is None
            or call.agent_one is None
            or set(found) != {call.two, call.agent_one}
        ):
            # Only a held call's own two sides are joined by the simulated PBX.
            self.reply(session, w.response(aid, "Error", ("Message", "Unable to bridge channels")))
            return
        self.reply(session, w.response(aid, "Success", ("Message", "Channels have been bridged")))
        two, a1 = call.two, call.agent_one
        bridge = call.bridge_id = self.engine.bridge_uuid()
        two.bridge_id = a1.bridge_id = bridge
        call.held = False
        self.engine.emit(
            w.channel_event("MusicOnHoldStop", two),
            w.bridge_event("BridgeCreate", bridge, 0),
            w.bridge_event("BridgeEnter", bridge, 1, a1),
            w.bridge_event("BridgeEnter", bridge, 2, two),
            w.varset(a1, "BRIDGEPEER", two.name),
            w.varset(two, "BRIDGEPEER", a1.name),
        )

    def _blind_transfer_action(self, session: Session, action: Action) -> None:
        """AMI `BlindTransfer`: the agent's channel (the transferer) sends the caller it is
        bridged with to `Exten@Context`. Replies as Asterisk's `action_blind_transfer`
        (main/manager.c) does; the `BlindTransfer` event (`IsExternal: Yes`, as for a
        phone's SIP REFER in trace p4) and the ringing of the target follow."""
        aid = action.action_id
        name, exten = action.get("channel"), action.get("exten")
        if not name:
            self.reply(session, w.response(aid, "Error", ("Message", "No channel specified")))
            return
        if not exten:
            self.reply(session, w.response(aid, "Error", ("Message", "No extension specified")))
            return
        ch = self.engine.find_channel(name)
        if ch is None:
            self.reply(
                session, w.response(aid, "Error", ("Message", "Channel specified does not exist"))
            )
            return
        call = self.engine.call_of(ch)
        if call is not None and call.held:
            # Not in a bridge (on hold): Asterisk's AST_BRIDGE_TRANSFER_INVALID.
            self.reply(session, w.response(aid, "Error", ("Message", "Transfer invalid")))
            return
        if (
            call is None
            or call.two is None
            or call.answered_at is None
            or ch not in (call.agent_one, call.agent_two)
            or call.transfer_to is not None
        ):
            # Only an answered agent's side sends its caller on here.
            self.reply(session, w.response(aid, "Error", ("Message", "Transfer failed")))
            return
        call.transfer_to = exten
        call.transfer_at = self.engine.clock()
        call.transfer_context = action.get("context") or call.two.context
        call.transfer_external = True
        call.redirected = False
        self.reply(session, w.response(aid, "Success", ("Message", "Transfer succeeded")))
        call.wake.set()

    def _setvar(self, session: Session, action: Action) -> None:
        aid = action.action_id
        variable, value = action.get("variable"), action.get("value")
        if not variable:
            self.reply(session, w.response(aid, "Error", ("Message", "No variable specified")))
            return
        name = action.get("channel")
        if name:
            ch = self.engine.find_channel(name)
            if ch is None:
                self.reply(session, w.response(aid, "Error", ("Message", "No such channel")))
                return
            self.reply(session, w.response(aid, "Success", ("Message", "Variable Set")))
            self.engine.emit(w.varset(ch, variable, value))
            return
        self.engine.global_vars[variable] = value
        self.reply(session, w.response(aid, "Success", ("Message", "Variable Set")))
        self.engine.emit(w.global_varset(variable, value))

    def _getvar(self, session: Session, action: Action) -> None:
        aid = action.action_id
        variable = action.get("variable")
        name = action.get("channel")
        value: str | None
        if name:
            ch = self.engine.find_channel(name)
            if ch is None:
                self.reply(session, w.response(aid, "Error", ("Message", "No such channel")))
                return
            key = variable.upper()
            functions = {
                "CHANNEL(LINKEDID)": ch.linkedid,
                "CHANNEL(UNIQUEID)": ch.uniqueid,
                "UNIQUEID": ch.uniqueid,
                "CALLERID(NUM)": ch.cid_num,
                "CALLERID(NAME)": ch.cid_name,
                "CHANNEL": ch.name,
            }
            value = functions.get(key, ch.variables.get(variable, ""))
        else:
            value = self.engine.global_vars.get(variable, "")
        self.reply(
            session, w.response(aid, "Success", ("Variable", variable), ("Value", value or ""))
        )

    def _stop_mixmonitor(self, session: Session, action: Action) -> None:
        aid = action.action_id
        ch = self.engine.find_channel(action.get("channel"))
        if ch is None:
            self.reply(session, w.response(aid, "Error", ("Message", "No such channel")))
            return
        self.reply(session, w.response(aid, "Success"))
        self.engine.emit(w.channel_event("MixMonitorStop", ch))

    # --- queue members -----------------------------------------------------------------
    def _queue_pause(self, session: Session, action: Action) -> None:
        e = self.engine
        aid = action.action_id
        interface = action.get("interface").strip()
        queue_name = action.get("queue")
        paused = action.get("paused").lower() in ("true", "yes", "1")
        reason = action.get("reason") if paused else ""
        if not interface:
            self.reply(
                session,
                w.response(aid, "Error", ("Message", "Need 'Interface' and 'Paused' parameters.")),
            )
            return
        members = [
            m
            for q, ms in e.members.items()
            if not queue_name or q == queue_name
            for m in ms
            if m.interface == interface
        ]
        if not members:
            self.reply(session, w.response(aid, "Error", ("Message", "Interface not found")))
            return
        message = "Interface paused successfully" if paused else "Interface unpaused successfully"
        self.reply(session, w.response(aid, "Success", ("Message", message)))
        now = int(time.time())
        agent = e.agent_for_interface(interface)
        frames: list[bytes] = []
        for member in members:
            member.paused = paused
            member.paused_reason = reason
            if paused:
                member.last_pause = now
            frames.append(
                w.device_state(
                    f"Queue:{member.queue}_pause_{member.interface}",
                    "INUSE" if paused else "NOT_INUSE",
                )
            )
            avail = e.avail_state(member.queue)
            if avail is not None:
                frames.append(avail)
            frames.append(
                w.frame(
                    [
                        ("Event", "QueueMemberPause"),
                        ("Privilege", "agent,all"),
                        *member.headers(agent),
                    ]
                )
            )
        e.emit(*frames)
        e.wake_waiting()

    def _queue_add(self, session: Session, action: Action) -> None:
        e = self.engine
        aid = action.action_id
        queue_name = action.get("queue")
        interface = action.get("interface").strip()
        if not queue_name or not interface:
            self.reply(
                session, w.response(aid, "Error", ("Message", "'Queue' and 'Interface' not set."))
            )
            return
        if queue_name not in e.queues:
            self.reply(
                session,
                w.response(
                    aid, "Error", ("Message", "Unable to add interface to queue: No such queue")
                ),
            )
            return
        if e.member(queue_name, interface) is not None:
            self.reply(
                session,
                w.response(aid, "Error", ("Message", "Unable to add interface: Already there")),
            )
            return
        paused = action.get("paused").lower() in ("true", "yes", "1")
        now = int(time.time())
        try:
            penalty = int(action.get("penalty", "0") or 0)
        except ValueError:
            penalty = 0
        agent = e.agent_for_interface(interface)
        new = SimMember(
            queue_name,
            interface,
            action.get("membername") or (agent.name if agent else interface),
            "dynamic",
            now,
            penalty=penalty,
            paused=paused,
            paused_reason=action.get("reason") if paused else "",
            last_pause=now if paused else 0,
        )
        e.members[queue_name].append(new)
        self.reply(session, w.response(aid, "Success", ("Message", "Added interface to queue")))
        frames = [
            w.device_state(
                f"Queue:{queue_name}_pause_{interface}", "INUSE" if paused else "NOT_INUSE"
            ),
            w.frame(
                [("Event", "QueueMemberAdded"), ("Privilege", "agent,all"), *new.headers(agent)]
            ),
        ]
        avail = e.avail_state(queue_name)
        if avail is not None:
            frames.append(avail)
        e.emit(*frames)
        e.wake_waiting()

    def _queue_remove(self, session: Session, action: Action) -> None:
        e = self.engine
        aid = action.action_id
        queue_name = action.get("queue")
        interface = action.get("interface").strip()
        if queue_name not in e.queues:
            self.reply(
                session,
                w.response(
                    aid,
                    "Error",
                    ("Message", "Unable to remove interface from queue: No such queue"),
                ),
            )
            return
        member = e.member(queue_name, interface)
        if member is None:
            self.reply(
                session,
                w.response(aid, "Error", ("Message", "Unable to remove interface: Not there")),
            )
            return
        if member.membership != "dynamic":
            self.reply(
                session,
                w.response(
                    aid, "Error", ("Message", "Unable to remove interface: Member is not dynamic")
                ),
            )
            return
        e.members[queue_name].remove(member)
        self.reply(session, w.response(aid, "Success", ("Message", "Removed interface from queue")))
        frames = [
            w.frame(
                [
                    ("Event", "QueueMemberRemoved"),
                    ("Privilege", "agent,all"),
                    *member.headers(e.agent_for_interface(interface)),
                ]
            )
        ]
        avail = e.avail_state(queue_name)
        if avail is not None:
            frames.append(avail)
        e.emit(*frames)
