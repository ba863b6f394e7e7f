"""Stored call records: the `calls` table and the store that writes and reads it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime
from kernel.call_record import (
    DEFAULT_PBX,
    SOURCE_BACKFILL,
    CallRecord,
    CallStep,
    record_json,
    to_datetime,
)
from routing.decision import Reason
from telephony.route_memo import ReasonLookup

# what `CallStore.insert_keys` also writes in its transaction, given the new calls' keys
AlsoWrite = Callable[[AsyncConnection, set[tuple[str, str]]], Awaitable[object]]


class CallRow(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    # The Asterisk the call was on (TRUBKA_PBXES); a call is unique by (linkedid, pbx):
    # two Asterisks' linkedids may collide.
    pbx: Mapped[str] = mapped_column(String(64), default=DEFAULT_PBX, server_default=DEFAULT_PBX)
    direction: Mapped[str] = mapped_column(String(10))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(255))
    called_number: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(80))
    agent_interface: Mapped[str | None] = mapped_column(String(128))
    agent_name: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    wait_seconds: Mapped[float] = mapped_column(Float)
    talk_seconds: Mapped[float] = mapped_column(Float)
    disposition: Mapped[str] = mapped_column(String(16))
    routed_by: Mapped[str | None] = mapped_column(String(32))
    routing_reason: Mapped[str | None] = mapped_column(String(512))
    # The routing decision's reason as a key and values (`routing.reasons` renders it in
    # the reader's language); null for calls stored before it was kept, or routed by a
    # dialplan of their own: `routing_reason` (English) is shown then.
    routing_reason_key: Mapped[str | None] = mapped_column(String(64))
    routing_reason_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    recording_file: Mapped[str | None] = mapped_column(String(512))
    queue_hold_seconds: Mapped[int | None] = mapped_column(Integer)
    queue_talk_seconds: Mapped[int | None] = mapped_column(Integer)
    agents: Mapped[list[str]] = mapped_column(JSON, default=list)
    agent_aliases: Mapped[list[str] | None] = mapped_column(JSON, default=list)  # null: older
    contact_id: Mapped[int | None] = mapped_column(Integer)
    company_id: Mapped[int | None] = mapped_column(Integer)  # added by the crm branch (crm_0001)
    ended_during_outage: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="ami", server_default="ami")
    timeline: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    __table_args__ = (
        UniqueConstraint("linkedid", "pbx", name="uq_calls_linkedid_pbx"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_caller_number_started_at", "caller_number", "started_at"),
        Index("ix_calls_called_number_started_at", "called_number", "started_at"),
        Index("ix_calls_queue_started_at", "queue", "started_at"),
        Index("ix_calls_agent_interface_started_at", "agent_interface", "started_at"),
        Index("ix_calls_contact_id_started_at", "contact_id", "started_at"),
    )

    def to_json(
        self, *, with_timeline: bool = False, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The call record (docs/architecture.md, "Call record") after the row's `id`;
        `extra` adds fields other packages look up (e.g. "recording")."""
        data = record_json(self, {"id": self.id})
        if extra:
            data.update(extra)
        if with_timeline:
            data["timeline"] = list(self.timeline or [])
        return data


def row_values(record: CallRecord, why: Reason | None = None) -> dict[str, Any]:
    """The row of a call record; `why` is its routing decision's structured reason."""
    return {
        "linkedid": record.linkedid,
        "pbx": record.pbx,
        "direction": record.direction.value,
        "caller_number": _clip(record.caller_number, 64),
        "caller_name": _clip(record.caller_name, 255),
        "called_number": _clip(record.called_number, 64),
        "queue": _clip(record.queue, 80),
        "agent_interface": _clip(record.agent_interface, 128),
        "agent_name": _clip(record.agent_name, 255),
        "started_at": to_datetime(record.started_at),
        "answered_at": to_datetime(record.answered_at) if record.answered_at is not None else None,
        "ended_at": to_datetime(record.ended_at),
        "wait_seconds": record.wait_seconds,
        "talk_seconds": record.talk_seconds,
        "disposition": record.disposition.value,
        "routed_by": _clip(record.routed_by, 32),
        "routing_reason": _clip(record.routing_reason, 512),
        "routing_reason_key": why.key.value if why is not None else None,
        "routing_reason_values": dict(why.values) if why is not None else None,
        "recording_file": _clip(record.recording_file, 512),
        "queue_hold_seconds": record.queue_hold_seconds,
        "queue_talk_seconds": record.queue_talk_seconds,
        "agents": list(record.agents),
        "agent_aliases": list(record.agent_aliases),
        "contact_id": record.contact_id,
        "ended_during_outage": record.ended_during_outage,
        "source": record.source,
        "timeline": [_step_json(step) for step in record.timeline],
    }


def _step_json(step: CallStep) -> dict[str, Any]:
    return step.to_json()


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


def upsert_calls(dialect: str, columns: Sequence[str]) -> Any:
    """`INSERT INTO calls … ON CONFLICT (linkedid, pbx) DO UPDATE … RETURNING linkedid, pbx`:
    a call closed blind by a resync (it ended while the AMI link was down) is completed by
    its record from Asterisk's books; any other stored call stays."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    table = cast(Table, CallRow.__table__)
    new = insert(table)
    return new.on_conflict_do_update(
        index_elements=["linkedid", "pbx"],
        set_={name: new.excluded[name] for name in columns if name not in ("linkedid", "pbx")},
        where=table.c.ended_during_outage.is_(true()) & (new.excluded.source == SOURCE_BACKFILL),
    ).returning(table.c.linkedid, table.c.pbx)


class CallStore:
    """Writes finished calls (idempotent on `linkedid`) and reads them back.

    `routing_reason` finds the structured reason of a routed call's decision (the
    composition root gives the router's memo), stored beside the English text."""

    def __init__(self, db: Database, routing_reason: ReasonLookup | None = None) -> None:
        self.db = db
        self.routing_reason = routing_reason
        self._insert: Any = None  # the INSERT of `insert_keys` (`upsert_calls`)

    def _why(self, record: CallRecord) -> Reason | None:
        if self.routing_reason is None or not record.routing_reason:
            return None
        return self.routing_reason(record.linkedid, record.routing_reason)

    async def save(self, records: Sequence[CallRecord]) -> int:
        """Insert records in one transaction; a linkedid already stored is skipped.
        Returns how many were new (`insert` says which)."""
        return len(await self.insert(records))

    async def insert(self, records: Sequence[CallRecord]) -> set[str]:
        """Insert records in one transaction; the linkedids that were new."""
        return {linkedid for linkedid, _pbx in await self.insert_keys(records)}

    async def insert_keys(
        self, records: Sequence[CallRecord], also: AlsoWrite | None = None
    ) -> set[tuple[str, str]]:
        """Insert records in one transaction; the (linkedid, pbx) of those that were new.
        `also(connection, new keys)` writes what goes with the new calls in the same
        transaction (the wrap-ups their agents owe: `crm.call_writer`).

        One cached INSERT … ON CONFLICT DO NOTHING … RETURNING, executed for all rows
        (SQLAlchemy batches them into multi-row statements): compiling a fresh multi-row
        VALUES statement per batch cost about 1 ms per record. Writes are idempotent by
        linkedid: a call seen live and rebuilt from Asterisk's books is stored once; the
        books' record replaces only one that was `ended_during_outage`.
        """
        if not records:
            return set()
        # One row per linkedid in one statement (PostgreSQL refuses to upsert a row twice
        # in a statement): the first record of a call wins, as a later insert would lose.
        unique = list({(r.linkedid, r.pbx): r for r in reversed(records)}.values())[::-1]
        values = [row_values(r, self._why(r)) for r in unique]
        if self._insert is None:  # built once: `excluded` alone cost 0.1 ms per batch
            self._insert = upsert_calls(self.db.dialect, list(values[0]))
        async with self.db.engine.begin() as conn:
            result = await conn.execute(self._insert, values)
            new = {(row[0], row[1]) for row in result.all()}
            if also is not None and new:
                await also(conn, new)
            return new

    async def known(self, linkedids: Sequence[str], pbx: str | None = None) -> set[str]:
        """Which of these calls are stored whole (not closed blind by a resync); of PBX
        `pbx` only, when given."""
        if not linkedids:
            return set()
        query = select(CallRow.linkedid).where(
            CallRow.linkedid.in_(list(linkedids)), CallRow.ended_during_outage.is_(False)
        )
        if pbx is not None:
            query = query.where(CallRow.pbx == pbx)
        async with self.db.session() as session:
            return set((await session.scalars(query)).all())

    async def list(
        self, *, since: datetime | None = None, limit: int | None = None, newest_first: bool = False
    ) -> list[CallRow]:
        query = select(CallRow)
        if since is not None:
            query = query.where(CallRow.started_at >= since)
        order = CallRow.started_at.desc() if newest_first else CallRow.started_at
        query = query.order_by(order, CallRow.id)
        if limit is not None:
            query = query.limit(limit)
        async with self.db.session() as session:
            return list((await session.scalars(query)).all())

    async def get(self, linkedid: str) -> CallRow | None:
        async with self.db.session() as session:
            row: CallRow | None = await session.scalar(
                select(CallRow).where(CallRow.linkedid == linkedid)
            )
            return row
