"""Spy sessions: how long a supervisor listened to, whispered to or barged into a call.

A listen/whisper/barge is an audited supervisor action, never a call record (the reducer
makes a `SpySessionEnded` of it, not a `CallEnded`). Its audit row says who asked, for
which call and when; this table adds what the PBX did: when the supervisor's phone rang,
when ChanSpy started listening and when the session ended. The action writes its row
when the supervisor answers; the end arrives from the bus; either may come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, Integer, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime
from kernel.bus import Subscription
from kernel.call_record import iso
from telephony.domain import DomainEvent, SpySessionEnded


class SpySessionRow(Base):
    __tablename__ = "supervisor_spy_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uniqueid: Mapped[str] = mapped_column(String(150), unique=True)
    audit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    phone: Mapped[str | None] = mapped_column(String(128))
    spied_linkedid: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    listening_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seconds: Mapped[float | None] = mapped_column(Float)  # from ChanSpy's start to the end


def _at(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class SpySessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _upsert(self, uniqueid: str, values: dict[str, Any]) -> None:
        insert = sqlite_insert if self.db.dialect == "sqlite" else pg_insert
        statement = insert(SpySessionRow).values(uniqueid=uniqueid[:150], **values)
        statement = statement.on_conflict_do_update(index_elements=["uniqueid"], set_=values)
        async with self.db.engine.begin() as conn:
            await conn.execute(statement)

    async def opened(
        self, uniqueid: str, *, audit_id: int | None, phone: str, spied_linkedid: str | None
    ) -> None:
        """The supervisor answered: the action's audit row is `audit_id`."""
        await self._upsert(
            uniqueid, {"audit_id": audit_id, "phone": phone[:128], "spied_linkedid": spied_linkedid}
        )

    async def ended(self, event: SpySessionEnded) -> None:
        seconds = None
        if event.listening_from is not None:
            seconds = round(max(0.0, event.ended_at - event.listening_from), 3)
        values: dict[str, Any] = {
            "started_at": _at(event.started_at),
            "listening_from": _at(event.listening_from),
            "ended_at": _at(event.ended_at),
            "seconds": seconds,
        }
        if event.phone:
            values["phone"] = event.phone[:128]
        if event.spied_linkedid:
            values["spied_linkedid"] = event.spied_linkedid[:64]
        await self._upsert(event.uniqueid, values)

    async def run(self, subscription: Subscription[DomainEvent]) -> None:
        while True:
            event = await subscription.get()
            if isinstance(event, SpySessionEnded):
                await self.ended(event)

    async def for_audit(self, audit_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """`{audit_id: {"uniqueid", "seconds", "ended_at"}}` of the sessions known."""
        if not audit_ids:
            return {}
        query = select(SpySessionRow).where(SpySessionRow.audit_id.in_(list(audit_ids)))
        async with self.db.session() as session:
            rows = (await session.scalars(query)).all()
        return {
            row.audit_id: {
                "uniqueid": row.uniqueid,
                "seconds": row.seconds,
                "ended_at": iso(row.ended_at.timestamp()) if row.ended_at else None,
            }
            for row in rows
            if row.audit_id is not None
        }
