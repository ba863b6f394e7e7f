"""SQLite's full-text index during an import: fed in bulk instead of row by row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, column, insert, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import Company, Contact

_TABLES: dict[str, Any] = {"contacts": Contact.__table__, "companies": Company.__table__}
_FTS_TRIGGERS = tuple(f"{t}_fts_{k}" for t in _TABLES for k in ("ai", "ad", "au"))
# The number index's insert trigger (migration 0006; an import only adds numbers, so its
# delete and update triggers stay): the numbers added are indexed in one statement.
_PHONE_TRIGGER = "phones_digits_ai"
_PHONES_AFTER = text(
    "INSERT INTO phones_digits_fts(rowid, digits_rev) "
    "SELECT id, digits_rev FROM phones WHERE id > :after"
)
_SAVED_TRIGGERS = text(
    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN :names"
).bindparams(bindparam("names", expanding=True))


def _fts(name: str) -> Any:
    """The FTS5 table of `name` (`contacts_fts`): its hidden column named after it takes
    commands such as 'delete'."""
    return table(f"{name}_fts", column(f"{name}_fts"), column("rowid"), column("search_text"))


class SearchIndex:
    """On SQLite the per-row FTS triggers cost ~80 µs a row; during an import they are
    dropped (inside the import's transaction, so a failure restores them) and the FTS
    tables are fed in bulk instead (the number index too, ~25 µs a number row by row).
    PostgreSQL's GIN indexes need nothing."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.sqlite = dialect == "sqlite"
        self.saved: list[str] = []
        self.phones_after: int | None = None  # the last number's id before the import

    async def suspend(self) -> None:
        if not self.sqlite:
            return
        names = [*_FTS_TRIGGERS, _PHONE_TRIGGER]
        rows = (await self.session.execute(_SAVED_TRIGGERS, {"names": names})).all()
        if any(name == _PHONE_TRIGGER for name, _ in rows):
            last = await self.session.scalar(text("SELECT MAX(id) FROM phones"))
            self.phones_after = int(last or 0)
        conn = await self.session.connection()
        quote = conn.dialect.identifier_preparer.quote
        for name, sql in rows:
            self.saved.append(sql)
            # DDL takes no bound names; `name` is one of _FTS_TRIGGERS, quoted all the same
            await conn.exec_driver_sql(f"DROP TRIGGER {quote(name)}")

    async def resume(self) -> None:
        """Recreate the triggers, from the SQL SQLite kept for them."""
        conn = await self.session.connection()
        if self.phones_after is not None:
            await self.session.execute(_PHONES_AFTER, {"after": self.phones_after})
            self.phones_after = None
        for sql in self.saved:
            await conn.exec_driver_sql(sql)
        self.saved = []

    async def added(self, name: str, first_id: int, last_id: int) -> None:
        """Index the rows of `name` ("contacts" or "companies") with ids in a range."""
        if self.sqlite and self.saved:
            source = _TABLES[name]
            await self.session.execute(
                insert(_fts(name)).from_select(
                    ["rowid", "search_text"],
                    select(source.c.id, source.c.search_text).where(
                        source.c.id.between(first_id, last_id)
                    ),
                )
            )

    async def changed(self, name: str, row_id: int, old_text: str, new_text: str) -> None:
        """Re-index one row whose search text changed (FTS5 needs the old text to drop it)."""
        if self.sqlite and self.saved and old_text != new_text:
            fts = _fts(name)
            await self.session.execute(
                insert(fts).values(
                    {
                        fts.c[f"{name}_fts"]: "delete",
                        fts.c.rowid: row_id,
                        fts.c.search_text: old_text,
                    }
                )
            )
            await self.session.execute(
                insert(fts).values({fts.c.rowid: row_id, fts.c.search_text: new_text})
            )
