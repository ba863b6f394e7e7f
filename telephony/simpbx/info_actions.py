"""The simulated PBX's informational actions and lists: CoreSettings, Command,
CoreShowChannels, Status, QueueStatus, QueueSummary, DeviceStateList …
(a mixin of :class:`~telephony.simpbx.server.AmiServer`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from telephony.simpbx import wire as w
from telephony.simpbx.config import AMI_VERSION, ASTERISK_VERSION
from telephony.simpbx.engine import CallEngine
from telephony.simpbx.session import Action, Session
from telephony.simpbx.wire import Header, SimChannel


class InfoActions:
    engine: CallEngine
    reply: Callable[[Session, bytes], None]

    # --- information -------------------------------------------------------------------
    def _core_settings(self, session: Session, action: Action) -> None:
        self.reply(
            session,
            w.response(
                action.action_id,
                "Success",
                ("AMIversion", AMI_VERSION),
                ("AsteriskVersion", ASTERISK_VERSION),
                ("SystemName", ""),
                ("CoreMaxCalls", "0"),
                ("CoreMaxLoadAvg", "0.000000"),
                ("CoreRunUser", ""),
                ("CoreRunGroup", ""),
                ("CoreMaxFilehandles", "0"),
                ("CoreRealTimeEnabled", "No"),
                ("CoreCDRenabled", "Yes"),
                ("CoreHTTPenabled", "No"),
                ("SoundsSearchCustomDir", "No"),
            ),
        )

    def _core_status(self, session: Session, action: Action) -> None:
        boot = time.gmtime(self.engine.boot)
        self.reply(
            session,
            w.response(
                action.action_id,
                "Success",
                ("CoreStartupDate", time.strftime("%Y-%m-%d", boot)),
                ("CoreStartupTime", time.strftime("%H:%M:%S", boot)),
                ("CoreReloadDate", time.strftime("%Y-%m-%d", boot)),
                ("CoreReloadTime", time.strftime("%H:%M:%S", boot)),
                ("CoreCurrentCalls", str(len(self.engine.calls))),
                ("CoreProcessedCalls", str(self.engine.processed_calls)),
            ),
        )

    def _list_commands(self, session: Session, action: Action) -> None:
        descriptions = {
            "BlindTransfer": "Blind transfer channel(s) to the given destination  (Priv: call,all)",
            "Bridge": "Bridge two channels already in the PBX.  (Priv: call,all)",
            "Challenge": "Generate Challenge for MD5 Auth.  (Priv: <none>)",
            "Command": "Execute Asterisk CLI Command.  (Priv: command,all)",
            "CoreSettings": "Show PBX core settings (version etc).  (Priv: system,reporting,all)",
            "CoreShowChannels": "List currently active channels.  (Priv: system,reporting,all)",
            "CoreStatus": "Show PBX core status variables.  (Priv: system,reporting,all)",
            "DeviceStateList": "List the current known device states.  (Priv: call,reporting,all)",
            "Events": "Control Event Flow.  (Priv: <none>)",
            "GetConfig": "Retrieve configuration.  (Priv: system,config,all)",
            "Getvar": "Gets a channel variable or function value.  (Priv: call,reporting,all)",
            "Hangup": "Hangup channel.  (Priv: system,call,all)",
            "Login": "Login Manager.  (Priv: <none>)",
            "Logoff": "Logoff Manager.  (Priv: <none>)",
            "Originate": "Originate a call.  (Priv: originate,all)",
            "PJSIPShowEndpoints": "Lists PJSIP endpoints.  (Priv: system,all)",
            "Ping": "Keepalive command.  (Priv: <none>)",
            "QueueAdd": "Add interface to queue.  (Priv: agent,all)",
            "QueuePause": "Makes a queue member temporarily unavailable.  (Priv: agent,all)",
            "QueuePenalty": "Set the penalty for a queue member.  (Priv: agent,all)",
            "QueueRemove": "Remove interface from queue.  (Priv: agent,all)",
            "QueueStatus": "Show queue status.  (Priv: <none>)",
            "QueueSummary": "Show queue summary.  (Priv: <none>)",
            "Redirect": "Redirect (transfer) a call.  (Priv: call,all)",
            "Setvar": "Sets a channel variable or function value.  (Priv: call,all)",
            "Status": "List channel status.  (Priv: system,call,reporting,all)",
            "StopMixMonitor": "Stop recording a call through MixMonitor, and free the recording's "
            "file handle.  (Priv: system,call,all)",
        }
        self.reply(session, w.response(action.action_id, "Success", *descriptions.items()))

    def _command(self, session: Session, action: Action) -> None:
        command = " ".join(action.get("command").split())
        lines: list[str] | None = None
        if command == "core show version":
            lines = [
                f"Asterisk {ASTERISK_VERSION} built by trubka @ simpbx on a x86_64 running Linux"
            ]
        elif command.startswith("queue show"):
            lines = self._queue_show(command.removeprefix("queue show").strip())
        elif command == "core show channels count":
            lines = [
                f"{len(self.engine.calls)} active calls",
                f"{self.engine.processed_calls} calls processed",
            ]
        if lines is None:
            words = command.split()[:2]
            hint = f"type 'core show help {' '.join(words)}' for other possible commands"
            lines = [f"No such command '{command}' ({hint})"]
            self.reply(
                session,
                w.response(
                    action.action_id,
                    "Error",
                    ("Message", "Command output follows"),
                    *[("Output", x) for x in lines],
                ),
            )
            return
        self.reply(
            session,
            w.response(
                action.action_id,
                "Success",
                ("Message", "Command output follows"),
                *[("Output", x) for x in lines],
            ),
        )

    def _queue_show(self, name: str) -> list[str]:
        e = self.engine
        out: list[str] = []
        for queue in e.queues.values():
            if name and queue.name != name:
                continue
            done = queue.completed
            hold = int(queue.hold_total / done) if done else 0
            talk = int(queue.talk_total / done) if done else 0
            out.append(
                f"{queue.name} has {len(queue.waiting)} calls (max unlimited) in "
                f"'{queue.config.strategy}' strategy ({hold}s holdtime, {talk}s talktime), "
                f"W:0, C:{done}, A:{queue.abandoned}, SL:0.0%, SL2:0.0% "
                f"within {queue.config.service_level}s"
            )
            out.append("   Members: " if e.members[queue.name] else "   No Members")
            for member in e.members[queue.name]:
                status = {1: "Not in use", 2: "In use", 5: "Unavailable"}.get(
                    e.member_status(member), "Unknown"
                )
                paused = " (paused)" if member.paused else ""
                out.append(
                    f"      {member.name} ({member.interface}) (ringinuse disabled){paused} "
                    f"({status}) has taken {member.calls_taken} calls"
                )
            out.append("   No Callers" if not queue.waiting else "   Callers: ")
            for index, entry in enumerate(queue.waiting, 1):
                assert entry.call.two is not None
                waited = int(time.time() - entry.joined)
                out.append(f"      {index}. {entry.call.two.name} (wait: {waited}s, prio: 0)")
            out.append("")
        return out or [f"No such queue: {name}."]

    def _list(
        self,
        session: Session,
        action: Action,
        message: str,
        items: list[bytes],
        complete: str,
        *extra: Header,
    ) -> None:
        aid = action.action_id
        data = [w.response(aid, "Success", ("EventList", "start"), ("Message", message)), *items]
        data.append(w.list_complete(complete, aid, len(items), *extra))
        self.reply(session, b"".join(data))

    def _core_show_channels(self, session: Session, action: Action) -> None:
        aid = action.action_id
        now = time.time()
        items = []
        for ch in reversed(self.engine.visible_channels()):
            seconds = int(now - ch.created)
            headers: list[Header] = [("Event", "CoreShowChannel")]
            if aid is not None:
                headers.append(("ActionID", aid))
            headers += ch.block()
            headers += [
                ("Application", ch.app),
                ("ApplicationData", ch.app_data),
                (
                    "Duration",
                    f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}",
                ),
                ("BridgeId", ch.bridge_id),
            ]
            items.append(w.frame(headers))
        self._list(session, action, "Channels will follow", items, "CoreShowChannelsComplete")

    def _status_item(self, ch: SimChannel, aid: str | None) -> bytes:
        return w.with_action_id(
            [
                ("Event", "Status"),
                ("Privilege", "Call"),
                *ch.block(),
                ("Type", "Local"),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.conn_num or "<unknown>"),
                ("EffectiveConnectedLineName", ch.conn_name or "<unknown>"),
                ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge_id),
                ("Application", ch.app),
                ("Data", ch.app_data),
                ("Nativeformats", "(slin)"),
                ("Readformat", "slin"),
                ("Readtrans", ""),
                ("Writeformat", "slin"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(time.time() - ch.created))),
            ],
            aid,
        )

    def _status(self, session: Session, action: Action) -> None:
        aid = action.action_id
        wanted = action.get("channel")
        if wanted:
            ch = self.engine.find_channel(wanted)
            if ch is None:
                self.reply(session, w.response(aid, "Error", ("Message", "No such channel")))
                return
            channels = [ch]
        else:
            channels = list(reversed(self.engine.visible_channels()))
        items = [self._status_item(ch, aid) for ch in channels]
        self._list(
            session,
            action,
            "Channel status will follow",
            items,
            "StatusComplete",
            ("Items", str(len(items))),
        )

    def _queue_status(self, session: Session, action: Action) -> None:
        e = self.engine
        aid = action.action_id
        only_queue = action.get("queue")
        only_member = action.get("member")
        now = time.time()
        items: list[bytes] = []
        for queue in e.queues.values():
            if only_queue and queue.name != only_queue:
                continue
            done = queue.completed
            items.append(
                w.with_action_id(
                    [
                        ("Event", "QueueParams"),
                        ("Queue", queue.name),
                        ("Max", "0"),
                        ("Strategy", queue.config.strategy),
                        ("Calls", str(len(queue.waiting))),
                        ("Holdtime", str(int(queue.hold_total / done) if done else 0)),
                        ("TalkTime", str(int(queue.talk_total / done) if done else 0)),
                        ("Completed", str(done)),
                        ("Abandoned", str(queue.abandoned)),
                        ("ServiceLevel", str(queue.config.service_level)),
                        ("ServicelevelPerf", "0.0"),
                        ("ServicelevelPerf2", "0.0"),
                        ("Weight", "0"),
                    ],
                    aid,
                )
            )
            for member in e.members[queue.name]:
                if only_member and member.interface != only_member:
                    continue
                items.append(
                    w.with_action_id(member.list_item(e.agent_for_interface(member.interface)), aid)
                )
            for position, entry in enumerate(queue.waiting, 1):
                two = entry.call.two
                assert two is not None
                items.append(
                    w.with_action_id(
                        [
                            ("Event", "QueueEntry"),
                            ("Queue", queue.name),
                            ("Position", str(position)),
                            ("Channel", two.name),
                            ("Uniqueid", two.uniqueid),
                            ("CallerIDNum", two.cid_num or "<unknown>"),
                            ("CallerIDName", two.cid_name or "<unknown>"),
                            ("ConnectedLineNum", two.conn_num or "<unknown>"),
                            ("ConnectedLineName", two.conn_name or "<unknown>"),
                            ("Wait", str(int(now - entry.joined))),
                            ("Priority", str(entry.priority)),
                        ],
                        aid,
                    )
                )
        self._list(session, action, "Queue status will follow", items, "QueueStatusComplete")

    def _queue_summary(self, session: Session, action: Action) -> None:
        e = self.engine
        aid = action.action_id
        only_queue = action.get("queue")
        now = time.time()
        items = []
        for queue in e.queues.values():
            if only_queue and queue.name != only_queue:
                continue
            members = e.members[queue.name]
            done = queue.completed
            longest = max((now - c.joined for c in queue.waiting), default=0.0)
            items.append(
                w.with_action_id(
                    [
                        ("Event", "QueueSummary"),
                        ("Queue", queue.name),
                        ("LoggedIn", str(len(members))),
                        ("Available", str(sum(1 for m in members if e.rings_now(queue.name, m)))),
                        ("Callers", str(len(queue.waiting))),
                        ("HoldTime", str(int(queue.hold_total / done) if done else 0)),
                        ("TalkTime", str(int(queue.talk_total / done) if done else 0)),
                        ("LongestHoldTime", str(int(longest))),
                    ],
                    aid,
                )
            )
        self._list(session, action, "Queue summary will follow", items, "QueueSummaryComplete")

    def _device_state_list(self, session: Session, action: Action) -> None:
        aid = action.action_id
        e = self.engine
        states: dict[str, str] = {}
        for queue, members in e.members.items():
            for member in members:
                states[f"Queue:{queue}_pause_{member.interface}"] = (
                    "INUSE" if member.paused else "NOT_INUSE"
                )
        for device, state in e.device_states().items():
            if device.startswith("Queue:"):
                states[device] = state
        for queue in e.queues:
            states.setdefault(f"Queue:{queue}", "NOT_INUSE")
            available = any(e.rings_now(queue, m) for m in e.members[queue])
            states.setdefault(f"Queue:{queue}_avail", "NOT_INUSE" if available else "INUSE")
        items = []
        for device, state in states.items():
            headers: list[Header] = [("Event", "DeviceStateChange")]
            if aid is not None:
                headers.append(("ActionID", aid))
            headers += [("Device", device), ("State", state)]
            items.append(w.frame(headers))
        self._list(
            session, action, "Device State Changes will follow", items, "DeviceStateListComplete"
        )

    def _extension_state_list(self, session: Session, action: Action) -> None:
        self._list(
            session, action, "Extension Statuses will follow", [], "ExtensionStateListComplete"
        )
