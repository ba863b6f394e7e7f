"""Queue memberships administered from Trubka: kept in the database, told to Asterisk.

An admin adds a user to a queue with a penalty, changes the penalty or removes them;
Trubka stores it (`crm.queue_members`) and sends `QueueAdd`/`QueuePenalty`/`QueueRemove`
for the user's first interface as a dynamic member. Asterisk forgets dynamic members on
restart unless queues.conf says `persistentmembers = yes`, so after every AMI (re)connect
:meth:`QueueAdmin.reapply` compares the stored memberships with what Asterisk reports and
adds what is missing (and sets penalties that differ). Every change is audited with the
membership before and after. When Asterisk cannot be asked the change is still stored
and the answer carries a warning; the next connect applies it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crm.errors import InvalidInput
from crm.queue_members import QueueMember, QueueMemberStore, check_penalty, check_queue_name
from crm.users import UserInfo, UserService
from kernel.agents import agent_key
from supervisor.audit import Actor, AuditAction, AuditEntry, AuditLog
from telephony.actions import AmiActions
from telephony.errors import ActionFailed, AmiError
from telephony.reducer import CallState
from telephony.state import Membership

log = logging.getLogger(__name__)

# Members queues.conf (or realtime) defines: Trubka leaves their penalty to Asterisk.
_CONFIGURED = frozenset({"static", "realtime"})
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})  # Asterisk's ast_true


def member_interface(user: UserInfo) -> str | None:
    """The interface a user joins queues with: their first one."""
    return user.interfaces[0] if user.interfaces else None


@dataclass(slots=True)
class Applied:
    """What became of a change at the PBX: sent (`applied`) or only stored (`warning`)."""

    applied: bool = False
    warning: str | None = None
    sent: list[str] = field(default_factory=list)  # the AMI actions sent


@dataclass(slots=True)
class ReapplyReport:
    added: int = 0
    penalties: int = 0
    failed: int = 0
    persistent_members: bool | None = None


class QueueAdmin:
    def __init__(
        self,
        store: QueueMemberStore,
        users: UserService,
        audit: AuditLog,
        live: CallState | None,
        pbx: Callable[[], AmiActions | None],
    ) -> None:
        self.store = store
        self.users = users
        self.audit = audit
        self.live = live
        self.pbx = pbx
        self.persistent_members: bool | None = None  # None: not known (Asterisk not asked)
        self.last_reapply: ReapplyReport | None = None
        self._wake = asyncio.Event()

    # --- what there is -------------------------------------------------------------------
    def live_membership(self, interface: str, queue: str) -> Membership | None:
        if self.live is None:
            return None
        agent = self.live.agent_for(interface)
        return None if agent is None else agent.memberships.get(queue)

    def known_queues(self) -> list[str]:
        return sorted(self.live.queues) if self.live is not None else []

    async def queues(self) -> list[dict[str, Any]]:
        """Every queue Asterisk or Trubka knows, with its members (stored and live)."""
        stored = await self.store.list()
        users = {u.id: u for u in await self.users.list()}
        names = set(self.known_queues()) | {m.queue for m in stored}
        result = []
        for name in sorted(names):
            queue = self.live.queues.get(name) if self.live is not None else None
            members: list[dict[str, Any]] = []
            seen: set[str] = set()
            for m in (m for m in stored if m.queue == name):
                user = users.get(m.user_id)
                if user is None:
                    continue
                interface = member_interface(user)
                live = self.live_membership(interface, name) if interface else None
                if interface:
                    seen.add(agent_key(interface))
                members.append(
                    {
                        "user_id": user.id,
                        "name": user.name,
                        "login": user.login,
                        "interface": interface,
                        "penalty": m.penalty,
                        "in_asterisk": live is not None,
                        "asterisk_penalty": live.penalty if live is not None else None,
                        "paused": live.paused if live is not None else False,
                        "managed": True,
                    }
                )
            if queue is not None and self.live is not None:
                for key in sorted(queue.members):
                    agent = self.live.agents.get(key)
                    ms = agent.memberships.get(name) if agent is not None else None
                    if ms is None or agent_key(ms.interface) in seen:
                        continue
                    owner = next(
                        (
                            u
                            for u in users.values()
                            if any(agent_key(i) == agent_key(ms.interface) for i in u.interfaces)
                        ),
                        None,
                    )
                    members.append(
                        {
                            "user_id": owner.id if owner else None,
                            "name": owner.name if owner else ms.name or ms.interface,
                            "login": owner.login if owner else None,
                            "interface": ms.interface,
                            "penalty": ms.penalty,
                            "in_asterisk": True,
                            "asterisk_penalty": ms.penalty,
                            "paused": ms.paused,
                            "managed": False,
                        }
                    )
            result.append(
                {
                    "name": name,
                    "strategy": queue.strategy if queue is not None else "",
                    "service_level": queue.service_level if queue is not None else None,
                    "in_asterisk": queue is not None,
                    "members": members,
                }
            )
        return result

    async def members(self, queue: str) -> list[dict[str, Any]]:
        for item in await self.queues():
            if item["name"] == queue:
                return list(item["members"])
        return []

    # --- changes -------------------------------------------------------------------------
    def _check_queue(self, queue: str) -> str:
        queue = check_queue_name(queue)
        known = self.known_queues()
        if known and queue not in known:
            raise InvalidInput(f"Asterisk has no queue {queue!r}", field="queue")
        return queue

    async def add(self, actor: Actor, queue: str, user_id: int, penalty: int) -> Applied:
        queue = self._check_queue(queue)
        check_penalty(penalty)
        user = await self.users.get(user_id)
        interface = member_interface(user)
        if interface is None:
            raise InvalidInput(
                "the user has no phone interface: give them one first", field="user_id"
            )
        member = await self.store.add(queue, user_id, penalty)
        applied = await self._apply(user, member) if user.active else Applied()
        await self._audit(actor, AuditAction.MEMBER_ADD, user, queue, None, member, applied)
        return applied

    async def set_penalty(self, actor: Actor, queue: str, user_id: int, penalty: int) -> Applied:
        check_penalty(penalty)
        user = await self.users.get(user_id)
        before = await self.store.get(queue, user_id)
        member = await self.store.set_penalty(queue, user_id, penalty)
        applied = await self._apply(user, member) if user.active else Applied()
        await self._audit(actor, AuditAction.MEMBER_PENALTY, user, queue, before, member, applied)
        return applied

    async def remove(self, actor: Actor, queue: str, user_id: int) -> Applied:
        user = await self.users.get(user_id)
        before = await self.store.get(queue, user_id)
        await self.store.remove(queue, user_id)
        applied = await self._withdraw(user, queue)
        await self._audit(actor, AuditAction.MEMBER_REMOVE, user, queue, before, None, applied)
        return applied

    async def sync_user(self, before: UserInfo | None, after: UserInfo) -> Applied:
        """Tell Asterisk what a change of the user means for their queues: a disabled user
        leaves them, an enabled one joins them again, a new first interface replaces the
        old one, queues added or dropped in the user's form are added or removed."""
        result = Applied()
        old_interface = member_interface(before) if before is not None else None
        old = set(before.queues) if before is not None and before.active else set()
        new = set(after.queues) if after.active else set()
        interface = member_interface(after)
        for queue in sorted(old):
            if (queue not in new or old_interface != interface) and old_interface is not None:
                self._merge(result, await self._withdraw_interface(old_interface, queue))
        stored = {m.queue: m for m in await self.store.list() if m.user_id == after.id}
        for queue in sorted(new):
            member = stored.get(queue)
            if member is not None and interface is not None:
                self._merge(result, await self._apply(after, member))
        return result

    # --- Asterisk ------------------------------------------------------------------------
    async def _apply(self, user: UserInfo, member: QueueMember) -> Applied:
        """Make Asterisk have the member with its penalty (QueueAdd, else QueuePenalty)."""
        interface = member_interface(user)
        pbx = self.pbx()
        result = Applied()
        if interface is None:
            return result
        if pbx is None:
            result.warning = "Asterisk is not connected: the change is saved and applied later"
            return result
        live = self.live_membership(interface, member.queue)
        try:
            if live is None:
                try:
                    await pbx.queue_add(
                        member.queue,
                        interface,
                        member_name=" ".join(user.name.split()),  # one line, for AMI
                        penalty=member.penalty,
                    )
                    result.sent.append("QueueAdd")
                except ActionFailed as exc:
                    if "already there" not in exc.message.lower():
                        raise
                    await pbx.queue_penalty(member.queue, interface, member.penalty)
                    result.sent.append("QueuePenalty")
            elif live.penalty != member.penalty and live.membership in _CONFIGURED:
                result.warning = (
                    f"a {live.membership} member of queues.conf: Asterisk keeps its own penalty"
                )
                return result
            elif live.penalty != member.penalty:
                await pbx.queue_penalty(member.queue, interface, member.penalty)
                result.sent.append("QueuePenalty")
            result.applied = True
        except AmiError as exc:
            result.warning = f"Asterisk did not take the change ({exc}); it is saved"
        return result

    async def _withdraw(self, user: UserInfo, queue: str) -> Applied:
        interface = member_interface(user)
        if interface is None:
            return Applied()
        return await self._withdraw_interface(interface, queue)

    async def _withdraw_interface(self, interface: str, queue: str) -> Applied:
        pbx = self.pbx()
        result = Applied()
        if pbx is None:
            result.warning = "Asterisk is not connected: the change is saved and applied later"
            return result
        try:
            await pbx.queue_remove(queue, interface)
            result.sent.append("QueueRemove")
            result.applied = True
        except ActionFailed as exc:
            if "not there" in exc.message.lower():
                result.applied = True
            else:
                result.warning = f"Asterisk did not take the change ({exc.message})"
        except AmiError as exc:
            result.warning = f"Asterisk did not take the change ({exc})"
        return result

    @staticmethod
    def _merge(into: Applied, part: Applied) -> None:
        into.sent += part.sent
        into.applied = into.applied or part.applied
        into.warning = into.warning or part.warning

    async def _audit(
        self,
        actor: Actor,
        action: AuditAction,
        user: UserInfo,
        queue: str,
        before: QueueMember | None,
        after: QueueMember | None,
        applied: Applied,
    ) -> None:
        def state(member: QueueMember | None) -> dict[str, Any] | None:
            if member is None:
                return None
            return {"queue": member.queue, "penalty": member.penalty}

        await self.audit.record(
            AuditEntry(
                action=action,
                actor=actor,
                agent=member_interface(user),
                agent_name=user.name,
                queue=queue,
                target=f"queue:{queue}/user:{user.id}",
                before=state(before),
                after=state(after),
                detail=applied.warning or ", ".join(applied.sent),
            )
        )

    # --- phones --------------------------------------------------------------------------
    async def check_interface(self, interface: str) -> dict[str, Any]:
        """Does Asterisk know this interface? `known` is True, False, or None when it could
        not be asked (a warning, never a refusal): a PJSIP interface is looked up among
        the PJSIP endpoints (`PJSIPShowEndpoints`), another one among the queue members
        and devices Asterisk reported."""
        value = interface.strip()
        technology, _, resource = value.partition("/")
        if technology.upper() == "PJSIP" and resource:
            pbx = self.pbx()
            if pbx is None:
                return {"interface": value, "known": None, "reason": "not_connected"}
            try:
                endpoints = await pbx.pjsip_endpoints()
            except AmiError:
                return {"interface": value, "known": None, "reason": "not_answered"}
            known = resource in endpoints
            return {
                "interface": value,
                "known": known,
                "reason": "endpoint" if known else "no_endpoint",
                "device_state": endpoints.get(resource),
            }
        if self.live is not None and self.live.agent_for(value) is not None:
            return {"interface": value, "known": True, "reason": "seen"}
        return {"interface": value, "known": None, "reason": "not_checked"}

    # --- after a (re)connect -------------------------------------------------------------
    def connected(self) -> None:
        """The AMI client's `on_connected` listener: re-apply soon, off its loop turn."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self.last_reapply = await self.reapply()
            except Exception:  # a bad turn must not end the task
                log.exception("queue members: re-applying after the AMI connect failed")

    async def reapply(self) -> ReapplyReport:
        """Add the stored members Asterisk lacks and set penalties that differ."""
        report = ReapplyReport(persistent_members=await self.detect_persistent_members())
        if self.pbx() is None:
            return report
        users = {u.id: u for u in await self.users.list(include_inactive=False)}
        for member in await self.store.list():
            user = users.get(member.user_id)
            if user is None:
                continue
            applied = await self._apply(user, member)
            if applied.warning:
                report.failed += 1
            report.added += applied.sent.count("QueueAdd")
            report.penalties += applied.sent.count("QueuePenalty")
        if report.added or report.penalties or report.failed:
            log.info(
                "queue members: %d added to Asterisk, %d penalties set, %d failed",
                report.added,
                report.penalties,
                report.failed,
            )
        return report

    async def detect_persistent_members(self) -> bool | None:
        """queues.conf's `persistentmembers` as Asterisk reads it (GetConfig); None when
        Asterisk cannot be asked (not connected, or the AMI user lacks `config` rights)."""
        pbx = self.pbx()
        if pbx is None:
            return self.persistent_members
        try:
            config = await pbx.get_config("queues.conf", "general")
        except AmiError as exc:
            log.info("queue members: cannot read queues.conf over AMI (%s)", exc)
            self.persistent_members = None
            return None
        value = config.get("general", {}).get("persistentmembers", "")
        self.persistent_members = value.strip().lower() in _TRUE
        return self.persistent_members
