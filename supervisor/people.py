"""Users as an administrator changes them: the change, its audit entry (before → after),
and what it means for the user's queues in Asterisk (`QueueAdmin.sync_user`).

The web API, the admin pages and the `trubka user add` command all go through here, so
every change of a user is in the audit log the same way. Passwords never enter the log:
a new password is logged as `"password": "changed"`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from crm.access import Actor as CrmActor
from crm.models import Role
from crm.users import UserInfo, UserService
from supervisor.audit import Actor, AuditAction, AuditEntry, AuditLog
from supervisor.queue_admin import Applied, QueueAdmin

# A generated password: 12 characters without look-alikes (0/O, 1/l/I).
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_PASSWORD_LENGTH = 12


def generate_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


def snapshot(user: UserInfo) -> dict[str, Any]:
    """What the audit log keeps of a user before and after a change."""
    return {
        "login": user.login,
        "name": user.name,
        "role": user.role.value,
        "language": user.language,
        "active": user.active,
        "interfaces": list(user.interfaces),
        "queues": list(user.queues),
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def crm_actor(actor: Actor) -> CrmActor:
    return CrmActor(user_id=actor.user_id, role=Role(actor.role), name=actor.name)


class People:
    def __init__(self, users: UserService, audit: AuditLog, queues: QueueAdmin) -> None:
        self.users = users
        self.audit = audit
        self.queues = queues

    async def create(
        self,
        actor: Actor,
        *,
        login: str,
        name: str,
        role: Role | str,
        password: str,
        interfaces: Sequence[str] = (),
        queues: Sequence[str] = (),
        language: str = "ru",
    ) -> tuple[UserInfo, Applied]:
        user = await self.users.create(
            login=login,
            name=name,
            role=role,
            password=password,
            interfaces=interfaces,
            queues=queues,
            language=language,
            actor=crm_actor(actor),
        )
        applied = await self.queues.sync_user(None, user)
        await self._record(actor, AuditAction.USER_CREATE, user, None, snapshot(user), applied)
        return user, applied

    async def update(
        self,
        actor: Actor,
        user_id: int,
        version: int,
        changes: dict[str, Any],
        *,
        current_password: str | None = None,
    ) -> tuple[UserInfo, Applied]:
        before = await self.users.get(user_id)
        user = await self.users.update(
            user_id,
            version,
            changes,
            actor=crm_actor(actor),
            current_password=current_password,
        )
        applied = await self.queues.sync_user(before, user)
        old, new = _diff(snapshot(before), snapshot(user))
        if changes.get("password") is not None:
            new["password"] = "changed"
        if set(new) == {"active"}:
            action = AuditAction.USER_ENABLE if user.active else AuditAction.USER_DISABLE
        elif set(new) == {"password"}:
            action = AuditAction.USER_PASSWORD
        else:
            action = AuditAction.USER_UPDATE
        if new:
            await self._record(actor, action, user, old, new, applied)
        return user, applied

    async def reset_password(
        self, actor: Actor, user_id: int, password: str | None = None
    ) -> tuple[UserInfo, str]:
        """Set the user's password (generated when not given); returns it once."""
        chosen = password or generate_password()
        current = await self.users.get(user_id)
        user, _ = await self.update(actor, user_id, current.version, {"password": chosen})
        return user, chosen

    async def _record(
        self,
        actor: Actor,
        action: AuditAction,
        user: UserInfo,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        applied: Applied,
    ) -> None:
        await self.audit.record(
            AuditEntry(
                action=action,
                actor=actor,
                agent_name=user.name,
                target=f"user:{user.id}",
                before=before,
                after=after,
                detail=applied.warning or ", ".join(applied.sent),
            )
        )
