"""The simulated PBX's actions an administrator's changes use: QueuePenalty,
PJSIPShowEndpoints and GetConfig (queues.conf's `persistentmembers`).

Answers and events as Asterisk 22 sends them (apps/app_queue.c
`manager_queue_member_penalty` and the `QueueMemberPenalty` event with the same fields
as `QueueMemberAdded`; res/res_pjsip/pjsip_configuration.c `ami_show_endpoints` with one
`EndpointList` event per endpoint; main/manager.c `action_getconfig`'s
`Category-NNNNNN`/`Line-NNNNNN-NNNNNN` headers).
"""

from __future__ import annotations

from collections.abc import Callable

from telephony.simpbx import wire as w
from telephony.simpbx.config import SimConfig
from telephony.simpbx.engine import CallEngine
from telephony.simpbx.session import Action, Session
from telephony.simpbx.wire import Header


class AdminActions:
    engine: CallEngine
    config: SimConfig
    reply: Callable[[Session, bytes], None]
    _list: Callable[..., None]

    def _queue_penalty(self, session: Session, action: Action) -> None:
        e = self.engine
        aid = action.action_id
        interface = action.get("interface").strip()
        penalty_text = action.get("penalty").strip()
        queue_name = action.get("queue")
        if not interface or not penalty_text:
            self.reply(
                session,
                w.response(aid, "Error", ("Message", "Need 'Interface' and 'Penalty' parameters.")),
            )
            return
        try:
            penalty = int(penalty_text)
        except ValueError:
            penalty = 0  # atoi
        members = [
            m
            for q, ms in e.members.items()
            if not queue_name or q == queue_name
            for m in ms
            if m.interface == interface
        ]
        if not members or penalty < 0:
            self.reply(
                session,
                w.response(aid, "Error", ("Message", "Invalid interface, queuename or penalty")),
            )
            return
        self.reply(
            session, w.response(aid, "Success", ("Message", "Interface penalty set successfully"))
        )
        agent = e.agent_for_interface(interface)
        frames = []
        for member in members:
            member.penalty = penalty
            frames.append(
                w.frame(
                    [
                        ("Event", "QueueMemberPenalty"),
                        ("Privilege", "agent,all"),
                        *member.headers(agent),
                    ]
                )
            )
        e.emit(*frames)

    def _pjsip_show_endpoints(self, session: Session, action: Action) -> None:
        aid = action.action_id
        items: list[bytes] = []
        for agent in self.engine.agents.values():
            if agent.config.technology != "PJSIP":
                continue
            number = agent.number
            headers: list[Header] = [("Event", "EndpointList")]
            if aid is not None:
                headers.append(("ActionID", aid))
            in_use = agent.busy()
            headers += [
                ("ObjectType", "endpoint"),
                ("ObjectName", number),
                ("Transport", "transport-udp"),
                ("Aor", number),
                ("Auths", number),
                ("OutboundAuths", ""),
                ("Contacts", f"{number}/sip:{number}@127.0.0.1:5060," if agent.registered else ""),
                (
                    "DeviceState",
                    "In use" if in_use else ("Not in use" if agent.registered else "Unavailable"),
                ),
                ("ActiveChannels", ""),
            ]
            items.append(w.frame(headers))
        if not items:
            self.reply(session, w.response(aid, "Error", ("Message", "No endpoints found\n")))
            return
        self._list(
            session,
            action,
            "A listing of Endpoints follows, presented as EndpointList events",
            items,
            "EndpointListComplete",
        )

    def _get_config(self, session: Session, action: Action) -> None:
        aid = action.action_id
        filename = action.get("filename")
        if not filename:
            self.reply(session, w.response(aid, "Error", ("Message", "Filename not specified")))
            return
        if filename != "queues.conf":
            self.reply(session, w.response(aid, "Error", ("Message", "Config file not found")))
            return
        category = action.get("category")
        sections: list[tuple[str, list[tuple[str, str]]]] = [
            ("general", [("persistentmembers", "yes" if self.config.persistent_members else "no")])
        ]
        for name, queue in self.engine.queues.items():
            sections.append((name, [("strategy", queue.config.strategy)]))
        headers: list[Header] = [("Response", "Success")]
        if aid is not None:
            headers.append(("ActionID", aid))
        count = 0
        for name, lines in sections:
            if category and name != category:
                continue
            headers.append((f"Category-{count:06d}", name))
            for number, (key, value) in enumerate(lines):
                headers.append((f"Line-{count:06d}-{number:06d}", f"{key}={value}"))
            count += 1
        self.reply(session, w.frame(headers))
