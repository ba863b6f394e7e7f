"""After-call work, stored: the wrap-ups an agent still owes, and who is held to write them.

- `pending_wrapups`: one row per agent and answered call whose wrap-up is not saved (or
  skipped) yet, with what the panel shows of the call. The panel lists them on load
  (`GET /api/panel/wrapups`), so a reload, another browser or a restart of Trubka loses
  none; saving the wrap-up (or skipping it) removes the row.
- `after_call_holds`: the agent Trubka holds out of the queues (a `QueuePause` with the
  reserved reason `kernel.agents.AFTER_CALL_REASON`) until they save the wrap-up of
  `linkedid` or `until` passes. `crm.after_call_work` keeps these rows and the PBX in step.

The time allowed is per queue: `WrapupLimits` (TRUBKA_WRAPUP_LIMIT, TRUBKA_QUEUE_WRAPUP_LIMITS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from crm.claims import insert_ignoring
from crm.database import Base, Database, UTCDateTime
from kernel.call_record import CallRecord


class PendingWrapup(Base):
    __tablename__ = "pending_wrapups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    agent_interface: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(255))
    called_number: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (UniqueConstraint("user_id", "linkedid", name="uq_pending_wrapups_user_call"),)


class AfterCallHold(Base):
    __tablename__ = "after_call_holds"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    linkedid: Mapped[str] = mapped_column(String(64))
    interfaces: Mapped[str] = mapped_column(Text)  # the queue members paused, one a line
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime())


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class WrapupLimits:
    """Seconds an agent is held for after-call work: `default`, or the call's queue's."""

    default: int = 60
    queues: dict[str, int] = field(default_factory=dict)

    def for_queue(self, queue: str | None) -> int:
        if queue and queue in self.queues:
            return self.queues[queue]
        return self.default


def parse_queue_limits(text: str) -> dict[str, int]:
    """`"support=120,sales=30"` → `{"support": 120, "sales": 30}`; ValueError names the bad
    item."""
    limits: dict[str, int] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip().isdigit():
            raise ValueError(f"{item!r} is not queue=seconds")
        seconds = int(value.strip())
        if seconds > 86_400:
            raise ValueError(f"{item!r}: at most 86400 seconds")
        limits[name] = seconds
    return limits


@dataclass(frozen=True, slots=True)
class Hold:
    user_id: int
    linkedid: str
    interfaces: tuple[str, ...]
    started_at: float
    until: float

    def to_json(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "started_at": _iso(_moment(self.started_at)),
            "until": _iso(_moment(self.until)),
            "limit_seconds": round(self.until - self.started_at),
        }


def pending_view(row: PendingWrapup) -> dict[str, Any]:
    return {
        "linkedid": row.linkedid,
        "agent_interface": row.agent_interface,
        "queue": row.queue,
        "direction": row.direction,
        "caller_number": row.caller_number,
        "caller_name": row.caller_name,
        "called_number": row.called_number,
        "contact_id": row.contact_id,
        "answered_at": _iso(row.answered_at),
        "ended_at": _iso(row.ended_at),
        "talk_seconds": round(row.talk_seconds, 1),
    }


class AfterCallStore:
    """The two tables above."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert: Any = None  # the INSERT of `add_pending`

    async def add_pending(self, user_id: int, interface: str, record: CallRecord) -> bool:
        """Remember the wrap-up the user owes for this call; False when already owed."""
        return await self.add_pending_many([(user_id, interface, record)]) == 1

    async def add_pending_many(self, owed: list[tuple[int, str, CallRecord]]) -> int | None:
        """Remember the wrap-ups owed, (user, interface, call) each, in one transaction (a
        call ended twice is owed once). How many were new, for one row (a batch: None, not
        every driver counts the rows of an executemany)."""
        if not owed:
            return 0
        async with self.db.engine.begin() as conn:
            return await self.owe_in(conn, owed)

    async def owe_in(
        self, conn: AsyncConnection, owed: Sequence[tuple[int, str, CallRecord]]
    ) -> int | None:
        """`add_pending_many` inside the caller's transaction (the call writer stores the
        wrap-ups owed with their calls' records: one transaction, not one more per call)."""
        if not owed:
            return 0
        rows = [
            {
                "user_id": user_id,
                "linkedid": record.linkedid,
                "agent_interface": interface[:128],
                "queue": record.queue and record.queue[:128],
                "direction": record.direction.value,
                "caller_number": record.caller_number and record.caller_number[:64],
                "caller_name": (record.caller_name or None) and record.caller_name[:255],
                "called_number": record.called_number and record.called_number[:64],
                "contact_id": record.contact_id,
                "answered_at": _moment(record.answered_at) if record.answered_at else None,
                "ended_at": _moment(record.ended_at),
                "talk_seconds": record.talk_seconds,
            }
            for user_id, interface, record in owed
        ]
        # One Core INSERT … ON CONFLICT (user_id, linkedid) DO NOTHING, built once. The
        # ORM's unit of work (add, flush) cost more CPU than the statement, for every
        # answered call.
        if self._insert is None:
            self._insert = insert_ignoring(self.db.dialect, PendingWrapup, ["user_id", "linkedid"])
        if len(rows) > 1:
            await conn.execute(self._insert, rows)
            return None
        result = await conn.execute(self._insert, rows[0])
        return int(result.rowcount or 0)

    async def pending(self, user_id: int, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """The newest `limit` wrap-ups the user owes (oldest call first), and how many
        they owe in all."""
        async with self.db.session() as session:
            total = await session.scalar(
                select(func.count())
                .select_from(PendingWrapup)
                .where(PendingWrapup.user_id == user_id)
            )
            rows = await session.scalars(
                select(PendingWrapup)
                .where(PendingWrapup.user_id == user_id)
                .order_by(PendingWrapup.ended_at.desc(), PendingWrapup.id.desc())
                .limit(limit)
            )
            return [pending_view(row) for row in reversed(rows.all())], int(total or 0)

    async def drop_pending(self, user_id: int, linkedid: str) -> bool:
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(PendingWrapup).where(
                    PendingWrapup.user_id == user_id, PendingWrapup.linkedid == linkedid
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def holds(self) -> list[Hold]:
        async with self.db.session() as session:
            rows = (await session.scalars(select(AfterCallHold))).all()
        return [
            Hold(
                user_id=row.user_id,
                linkedid=row.linkedid,
                interfaces=tuple(i for i in row.interfaces.splitlines() if i),
                started_at=row.started_at.timestamp(),
                until=row.until.timestamp(),
            )
            for row in rows
        ]

    async def put_hold(self, hold: Hold) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                delete(AfterCallHold).where(AfterCallHold.user_id == hold.user_id)
            )
            session.add(
                AfterCallHold(
                    user_id=hold.user_id,
                    linkedid=hold.linkedid,
                    interfaces="\n".join(hold.interfaces),
                    started_at=_moment(hold.started_at),
                    until=_moment(hold.until),
                )
            )

    async def drop_hold(self, user_id: int) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(AfterCallHold).where(AfterCallHold.user_id == user_id))
