"""How far Asterisk's books (queue_log, the CDR file) were read: one row per book."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime

LAST_RECONCILE = "reconcile"  # the row `trubka reconcile` keeps its last summary in


class BookCursorRow(Base):
    __tablename__ = "book_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BookCursors:
    """The `CursorStore` of `telephony.books.backfill`, in the database."""

    def __init__(self, db: Database, prefix: str = "") -> None:
        self.db = db
        self.prefix = prefix  # another PBX's cursors: `<pbx>:queue_log` … (TRUBKA_PBXES)

    async def load(self, name: str) -> dict[str, Any] | None:
        name = self.prefix + name
        async with self.db.session() as session:
            value: dict[str, Any] | None = await session.scalar(
                select(BookCursorRow.value).where(BookCursorRow.name == name)
            )
            return value

    async def save(self, name: str, value: dict[str, Any]) -> None:
        name = self.prefix + name
        insert = sqlite_insert if self.db.dialect == "sqlite" else pg_insert
        now = datetime.now(UTC)
        statement = insert(BookCursorRow).values(name=name, value=value, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_at": now}
        )
        async with self.db.engine.begin() as conn:
            await conn.execute(statement)
