"""The audit log of supervisor actions: who listened to, paused, logged out or hung up whom.

Every action a supervisor or admin asks for is written here, whether it was done,
refused by Trubka before anything was sent (`refused`: the agent or call no longer
exists …) or refused or not answered by the PBX (`failed`). Rows are never changed or
deleted by Trubka. The user's login and name are copied into the row, so the log
stays readable after a user is renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime
from supervisor.errors import ReportParameterError
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


SPY_ACTIONS = frozenset({AuditAction.LISTEN, AuditAction.WHISPER, AuditAction.BARGE})


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

    __table_args__ = (
        Index("ix_supervisor_audit_at", "at"),
        Index("ix_supervisor_audit_agent_at", "agent", "at"),
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


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


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
    ) -> dict[str, Any]:
        """Newest first: `{"total": N, "entries": [...]}`."""
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
        conditions = []
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
    }
