"""The audit log of supervisor actions and admin changes: who listened to, paused, logged
out or hung up whom; who added, changed or disabled a user or a queue membership.

Every action a supervisor or admin asks for is written here, whether it was done,
refused by Trubka before anything was sent (`refused`: the agent or call no longer
exists …) or refused or not answered by the PBX (`failed`). Rows are never changed or
deleted by Trubka. The user's login and name are copied into the row, so the log
stays readable after a user is renamed or removed. An admin change (`ADMIN_ACTIONS`)
also names its `target` (`user:12`, `queue:support/user:12`) and keeps the changed fields
before and after (`before`, `after`: JSON objects, passwords never included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime
from supervisor.errors import ReportParameterError
from supervisor.export import to_csv
from supervisor.spy_sessions import SpySessions
from telephony.records import iso

MAX_LIMIT = 500


class AuditAction(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    QUEUE_REMOVE = "queue_remove"
    HANGUP = "hangup"
    ROUTING_RULES = "routing_rules"  # admin: routing rules saved or rolled back
    ADMIN_SETTING = "admin_setting"  # admin: pause reasons, wrap-up codes, targets …
    WEBHOOK_DISABLED = "webhook_disabled"  # by the webhook worker (crm.hooks.worker)
    USER_CREATE = "user_create"
    USER_UPDATE = "user_update"
    USER_DISABLE = "user_disable"
    USER_ENABLE = "user_enable"
    USER_PASSWORD = "user_password"
    MEMBER_ADD = "member_add"
    MEMBER_PENALTY = "member_penalty"
    MEMBER_REMOVE = "member_remove"


SPY_ACTIONS = frozenset({AuditAction.LISTEN, AuditAction.WHISPER, AuditAction.BARGE})
ADMIN_ACTIONS = frozenset(
    {
        AuditAction.USER_CREATE,
        AuditAction.USER_UPDATE,
        AuditAction.USER_DISABLE,
        AuditAction.USER_ENABLE,
        AuditAction.USER_PASSWORD,
        AuditAction.MEMBER_ADD,
        AuditAction.MEMBER_PENALTY,
        AuditAction.MEMBER_REMOVE,
    }
)
KINDS = ("admin", "supervisor")


class Outcome(StrEnum):
    DONE = "done"  # the PBX accepted (for listen/whisper/barge: the supervisor answered)
    REFUSED = "refused"  # refused by Trubka: nothing was sent to the PBX
    FAILED = "failed"  # refused by the PBX, no answer in time, or the phone not answered


class AuditRow(Base):
    __tablename__ = "supervisor_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(Integer)
    login: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(24))
    agent: Mapped[str | None] = mapped_column(String(128))  # interface key
    agent_name: Mapped[str | None] = mapped_column(String(255))
    queue: Mapped[str | None] = mapped_column(String(80))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500), default="")
    client_ip: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))  # an admin change: what
    before_json: Mapped[str | None] = mapped_column(Text)  # … and it before and after
    after_json: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_supervisor_audit_at", "at"),
        Index("ix_supervisor_audit_agent_at", "agent", "at"),
        Index("ix_supervisor_audit_target_at", "target", "at"),
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for an action (from the signed-in user)."""

    user_id: int | None
    login: str
    name: str
    role: str
    interfaces: tuple[str, ...] = ()
    client_ip: str | None = None


@dataclass(slots=True)
class AuditEntry:
    action: AuditAction
    actor: Actor
    outcome: Outcome = Outcome.DONE
    detail: str = ""
    agent: str | None = None
    agent_name: str | None = None
    queue: str | None = None
    linkedid: str | None = None
    channel: str | None = None
    reason: str | None = None
    at: datetime | None = None
    id: int | None = None  # set once written
    target: str | None = None  # admin changes: `user:12`, `queue:support/user:12`
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


def _dump(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _load(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        loaded = json.loads(value)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.spy_sessions = SpySessions(db)

    async def record(self, entry: AuditEntry) -> int:
        row = AuditRow(
            at=entry.at or datetime.now(UTC),
            user_id=entry.actor.user_id,
            login=entry.actor.login[:64],
            user_name=entry.actor.name[:255],
            role=entry.actor.role[:16],
            action=entry.action.value,
            agent=_cut(entry.agent, 128),
            agent_name=_cut(entry.agent_name, 255),
            queue=_cut(entry.queue, 80),
            linkedid=_cut(entry.linkedid, 64),
            channel=_cut(entry.channel, 255),
            reason=_cut(entry.reason, 255),
            outcome=entry.outcome.value,
            detail=entry.detail[:500],
            client_ip=_cut(entry.actor.client_ip, 64),
            target=_cut(entry.target, 255),
            before_json=_dump(entry.before),
            after_json=_dump(entry.after),
        )
        async with self.db.transaction() as session:
            session.add(row)
            await session.flush()
            return row.id

    async def list(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        action: str | None = None,
        agent: str | None = None,
        login: str | None = None,
        kind: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        """Newest first: `{"total": N, "entries": [...]}`; `kind` is `admin` (changes of
        users and queue members) or `supervisor` (actions on agents and calls), `target`
        matches an admin change's target or the targets under it (`user:12` also finds
        `queue:support/user:12`), `since`/`until` bound the time (until: exclusive)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ReportParameterError("limit", f"must be between 1 and {MAX_LIMIT}")
        if offset < 0:
            raise ReportParameterError("offset", "must not be negative")
        if action:
            try:
                AuditAction(action)
            except ValueError:
                choices = ", ".join(a.value for a in AuditAction)
                raise ReportParameterError(
                    "action", f"{action!r} is not one of: {choices}"
                ) from None
        if kind and kind not in KINDS:
            raise ReportParameterError("kind", f"{kind!r} is not one of: {', '.join(KINDS)}")
        conditions: list[Any] = []
        admin_values = [a.value for a in ADMIN_ACTIONS]
        if kind == "admin":
            conditions.append(AuditRow.action.in_(admin_values))
        elif kind == "supervisor":
            conditions.append(AuditRow.action.not_in(admin_values))
        if target:
            value = target.strip()
            conditions.append(
                (AuditRow.target == value) | AuditRow.target.like("%/" + _like(value), escape="\\")
            )
        if since is not None:
            conditions.append(AuditRow.at >= since)
        if until is not None:
            conditions.append(AuditRow.at < until)
        if action:
            conditions.append(AuditRow.action == action)
        if agent:
            conditions.append(AuditRow.agent == agent.strip())
        if login:
            conditions.append(AuditRow.login == login.strip().lower())
        query = (
            select(AuditRow)
            .where(*conditions)
            .order_by(AuditRow.at.desc(), AuditRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self.db.session() as session:
            rows = list((await session.scalars(query)).all())
            total = int(
                (
                    await session.execute(select(func.count(AuditRow.id)).where(*conditions))
                ).scalar_one()
            )
        spied = await self.spy_sessions.for_audit(
            [row.id for row in rows if row.action in SPY_ACTIONS]
        )
        entries = [entry_json(row) for row in rows]
        for entry in entries:
            if entry["action"] in SPY_ACTIONS:
                entry["spy_session"] = spied.get(entry["id"])
        return {"total": total, "entries": entries}


def audit_time(field: str, value: str | None) -> datetime | None:
    """A filter's time: a date (its midnight, UTC) or an ISO-8601 time (UTC if naive)."""
    if not value or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ReportParameterError(field, f"{value!r} is not a date or an ISO-8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


CSV_COLUMNS = (
    "id",
    "at",
    "login",
    "user_name",
    "role",
    "action",
    "outcome",
    "target",
    "agent",
    "queue",
    "linkedid",
    "reason",
    "detail",
    "before",
    "after",
    "client_ip",
)


def entries_csv(entries: list[dict[str, Any]]) -> str:
    """The audit entries as CSV (UTF-8 with a BOM, formulas quoted: `supervisor.export`)."""
    return to_csv(entries, CSV_COLUMNS)


def entry_json(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso(row.at.timestamp()),
        "user_id": row.user_id,
        "login": row.login,
        "user_name": row.user_name,
        "role": row.role,
        "action": row.action,
        "agent": row.agent,
        "agent_name": row.agent_name,
        "queue": row.queue,
        "linkedid": row.linkedid,
        "channel": row.channel,
        "reason": row.reason,
        "outcome": row.outcome,
        "detail": row.detail,
        "client_ip": row.client_ip,
        "target": row.target,
        "before": _load(row.before_json),
        "after": _load(row.after_json),
    }
