"""Valid rows → the database, a batch at a time, inside the import's one transaction.

A batch is stored in four steps: rows sharing a number are folded into the first (or,
with `duplicates="report"`, rejected); rows whose number already belongs to a contact
are merged into it (or rejected); companies named by the rest are found or created;
the new contacts, their numbers and tags are written with one statement per table.

Statements are SQLAlchemy Core with bound values. The bulk INSERTs are the measured
fast path: on SQLite the whole batch is one JSON document read by `json_each` (one
statement step instead of one per row, so the database thread does not wait for the
GIL, held by the parser, between rows); on PostgreSQL the rows go to asyncpg's
executemany as they are, without SQLAlchemy's per-row processing, so their values
must already be what the driver takes (`_json`, `_stamp`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from crm.contacts import contact_search_text
from crm.csv_import.report import ImportReport, Rejected
from crm.csv_import.search_index import SearchIndex
from crm.csv_import.validation import ContactRow
from crm.linking import relink_numbers
from crm.models import Company, Contact, ContactTag, Phone
from crm.words import search_text

CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
COMPANIES: Table = Company.__table__  # type: ignore[assignment]
PHONES: Table = Phone.__table__  # type: ignore[assignment]
CONTACT_TAGS: Table = ContactTag.__table__  # type: ignore[assignment]

_CONTACT_COLUMNS = (
    "id",
    "name",
    "company_id",
    "owner_id",
    "emails",
    "custom",
    "search_text",
    "created_at",
    "updated_at",
    "version",
)
_PHONE_COLUMNS = ("contact_id", "raw", "number", "valid", "digits_rev", "label", "position")
_COMPANY_COLUMNS = ("id", "name", "custom", "search_text", "created_at", "updated_at", "version")
_PG_CHUNK = 500  # numbers looked up per statement on PostgreSQL


class BatchStore:
    """Stores the batches of one import (one session, one transaction)."""

    def __init__(
        self,
        session: AsyncSession,
        dialect: str,
        duplicates: str,
        report: ImportReport,
        index: SearchIndex,
        *,
        calls_exist: bool = True,
    ) -> None:
        self.session = session
        self.sqlite = dialect == "sqlite"
        self.duplicates = duplicates
        self.report = report
        self.index = index
        self.calls_exist = calls_exist  # else nothing needs relinking
        self.companies: dict[str, int] = {}  # folded name -> id, for the whole import
        self._next_ids: dict[str, int] = {}

    async def store(self, batch: list[ContactRow]) -> None:
        report = self.report
        # 1. duplicates inside the batch: fold later rows into the first one with a shared number
        first_with: dict[str, ContactRow] = {}
        unique: list[ContactRow] = []
        for row in batch:
            earlier = next(
                (first_with[n.number] for n in row.numbers if n.number in first_with), None
            )
            if earlier is None:
                unique.append(row)
                for n in row.numbers:
                    first_with[n.number] = row
                continue
            if self.duplicates == "report":
                report.rejected.append(
                    Rejected(
                        row.line, f"duplicate of line {earlier.line} (same phone number)", row.cells
                    )
                )
                continue
            earlier.absorb(row)
            report.merged += 1
            for n in row.numbers:
                first_with.setdefault(n.number, earlier)
        # 2. numbers that already belong to a contact
        existing = await self._owners([n.number for row in unique for n in row.numbers])
        fresh: list[ContactRow] = []
        merges: dict[int, list[ContactRow]] = {}
        for row in unique:
            owner = next((existing[n.number] for n in row.numbers if n.number in existing), None)
            if owner is None:
                fresh.append(row)
            elif self.duplicates == "report":
                report.rejected.append(
                    Rejected(
                        row.line, f"duplicate of contact #{owner} (same phone number)", row.cells
                    )
                )
            else:
                merges.setdefault(owner, []).append(row)
        await self._company_ids(
            [
                r.company
                for r in sorted(
                    fresh + [m for ms in merges.values() for m in ms], key=lambda r: r.line
                )
                if r.company
            ]
        )
        touched: set[str] = set()
        # 3. new contacts, their numbers and tags
        if fresh:
            touched |= await self._create(fresh)
            report.created += len(fresh)
        # 4. merges into contacts that were there before this batch
        for contact_id, rows in merges.items():
            touched |= await self._merge_into(contact_id, rows)
            report.merged += len(rows)
        if self.calls_exist:
            await relink_numbers(self.session, touched)

    async def _owners(self, numbers: list[str]) -> dict[str, int]:
        """The contact each of these numbers already belongs to (the oldest, if several)."""
        conn = await self.session.connection()
        found: dict[str, int] = {}
        if self.sqlite:
            # one statement for the batch (see the module's doc: fewer GIL hand-offs)
            result = await conn.execute(_OWNERS_SQLITE, {"numbers": json.dumps(numbers)})
            found.update(result.all())
            return found
        for start in range(0, len(numbers), _PG_CHUNK):
            chunk = numbers[start : start + _PG_CHUNK]
            result = await conn.execute(
                select(PHONES.c.number, func.min(PHONES.c.contact_id))
                .where(PHONES.c.number.in_(chunk), PHONES.c.contact_id.is_not(None))
                .group_by(PHONES.c.number)
            )
            found.update(result.all())
        return found

    async def _create(self, fresh: list[ContactRow]) -> set[str]:
        """Write new contacts with their numbers and tags; returns their numbers."""
        sqlite = self.sqlite
        stamp = _stamp(datetime.now(UTC), sqlite)
        ids = await self._allocate_ids(CONTACTS, len(fresh))
        companies = self.companies
        contact_rows = [
            (
                contact_id,
                r.name,
                companies[r.company.casefold()] if r.company else None,
                r.owner_id,
                _json(r.emails, "[]", sqlite),
                _json(r.custom, "{}", sqlite),
                contact_search_text(r.name, r.company, r.tags, r.emails),
                stamp,
                stamp,
                1,
            )
            for contact_id, r in zip(ids, fresh, strict=True)
        ]
        await bulk_insert(self.session, CONTACTS, _CONTACT_COLUMNS, contact_rows)
        await self.index.added("contacts", ids[0], ids[-1])
        phone_rows: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[Any, ...]] = []
        touched: set[str] = set()
        for contact_id, row in zip(ids, fresh, strict=True):
            for position, n in enumerate(row.numbers):
                phone_rows.append(
                    (contact_id, n.raw, n.number, n.valid, n.digits_rev, n.label, position)
                )
                touched.add(n.number)
            tag_rows.extend((contact_id, t) for t in row.tags)
        await bulk_insert(self.session, PHONES, _PHONE_COLUMNS, phone_rows)
        await bulk_insert(self.session, CONTACT_TAGS, ("contact_id", "tag"), tag_rows)
        return touched

    async def _allocate_ids(self, table: Table, count: int) -> list[int]:
        """Ids for new rows, so they can be written with one executemany.

        SQLite: the import holds the write lock from its first statement on, so the
        next ids are simply after the largest. PostgreSQL: taken from the sequence.
        """
        session = self.session
        if self.sqlite:
            if table.name not in self._next_ids:
                largest = await session.scalar(select(func.coalesce(func.max(table.c.id), 0)))
                self._next_ids[table.name] = int(largest or 0) + 1
            first = self._next_ids[table.name]
            self._next_ids[table.name] += count
            return list(range(first, first + count))
        result = await session.execute(
            select(func.nextval(func.pg_get_serial_sequence(table.name, "id"))).select_from(
                func.generate_series(1, count)
            )
        )
        return [int(r[0]) for r in result]

    async def _company_ids(self, names: Sequence[str]) -> None:
        """Find or create the companies named (the first spelling in the file wins)."""
        session, cache = self.session, self.companies
        wanted: dict[str, str] = {}
        for name in names:
            if name.casefold() not in cache:
                wanted.setdefault(name.casefold(), name)
        if not wanted:
            return
        for cid, name in (
            await session.execute(
                select(Company.id, Company.name).where(func.lower(Company.name).in_(list(wanted)))
            )
        ).all():
            cache.setdefault(name.casefold(), cid)
        # lower() in SQLite folds ASCII only: match the rest in Python
        missing = {k: v for k, v in wanted.items() if k not in cache}
        if missing:
            for cid, name in (
                await session.execute(
                    select(Company.id, Company.name).where(Company.name.in_(list(missing.values())))
                )
            ).all():
                cache.setdefault(name.casefold(), cid)
        new = [(key, name) for key, name in wanted.items() if key not in cache]
        if not new:
            return
        stamp = _stamp(datetime.now(UTC), self.sqlite)
        ids = await self._allocate_ids(COMPANIES, len(new))
        await bulk_insert(
            session,
            COMPANIES,
            _COMPANY_COLUMNS,
            [
                (cid, name, "{}", search_text([name]), stamp, stamp, 1)
                for cid, (_, name) in zip(ids, new, strict=True)
            ],
        )
        await self.index.added("companies", ids[0], ids[-1])
        for cid, (key, _) in zip(ids, new, strict=True):
            cache[key] = cid
        self.report.companies_created += len(new)

    async def _merge_into(self, contact_id: int, rows: Sequence[ContactRow]) -> set[str]:
        """Add the rows' numbers, e-mails, tags and missing fields to an existing contact;
        returns the numbers whose calls need relinking."""
        session = self.session
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        have = {
            n
            for n in (
                await session.scalars(select(Phone.number).where(Phone.contact_id == contact_id))
            ).all()
        }
        tags = list(
            (
                await session.scalars(
                    select(ContactTag.tag).where(ContactTag.contact_id == contact_id)
                )
            ).all()
        )
        position = len(have)
        added: set[str] = set()
        emails = list(contact.emails or [])
        custom = dict(contact.custom or {})
        company_id = contact.company_id
        owner_id = contact.owner_id
        for row in rows:
            for n in row.numbers:
                if n.number not in have:
                    have.add(n.number)
                    added.add(n.number)
                    session.add(Phone(contact_id=contact_id, company_id=None, **n.row(position)))
                    position += 1
            emails.extend(e for e in row.emails if e not in emails)
            for tag in row.tags:
                if tag.casefold() not in {t.casefold() for t in tags}:
                    tags.append(tag)
                    session.add(ContactTag(contact_id=contact_id, tag=tag))
            for key, value in row.custom.items():
                custom.setdefault(key, value)
            if company_id is None and row.company:
                company_id = self.companies[row.company.casefold()]
            if owner_id is None and row.owner_id is not None:
                owner_id = row.owner_id
        company_name = (
            await session.scalar(select(Company.name).where(Company.id == company_id))
            if company_id
            else None
        )
        company_changed = company_id != contact.company_id
        old_text = contact.search_text
        contact.emails, contact.custom, contact.company_id, contact.owner_id = (
            emails,
            custom,
            company_id,
            owner_id,
        )
        contact.search_text = contact_search_text(contact.name, company_name, tags, emails)
        contact.updated_at = datetime.now(UTC)
        await session.flush()
        await self.index.changed("contacts", contact_id, old_text, contact.search_text)
        # a contact that gained a company: its calls now belong to the company too
        return have if company_changed else added


_EACH = func.json_each(bindparam("numbers")).table_valued("value")
_OWNERS_SQLITE = (
    select(PHONES.c.number, func.min(PHONES.c.contact_id))
    .where(PHONES.c.number.in_(select(_EACH.c.value)), PHONES.c.contact_id.is_not(None))
    .group_by(PHONES.c.number)
)


async def bulk_insert(
    session: AsyncSession, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Rows (tuples in the order of `columns`) straight to the database: see the
    module's doc for why, and for what the values must be."""
    if not rows:
        return
    conn = await session.connection()
    if conn.dialect.name == "sqlite":
        await conn.execute(
            _sqlite_insert(table, tuple(columns)), {"rows": json.dumps(rows, ensure_ascii=False)}
        )
        return
    await conn.exec_driver_sql(_driver_insert(table, tuple(columns), conn.dialect), rows)


@lru_cache(maxsize=16)
def _sqlite_insert(table: Table, columns: tuple[str, ...]) -> Executable:
    """`INSERT INTO table (columns) SELECT json_extract(value, '$[i]') … FROM json_each(:rows)`."""
    each = func.json_each(bindparam("rows")).table_valued("value")
    return insert(table).from_select(
        [table.c[name] for name in columns],
        select(
            *(func.json_extract(each.c.value, f"$[{i}]") for i in range(len(columns)))
        ).select_from(each),
    )


@lru_cache(maxsize=16)
def _driver_insert(table: Table, columns: tuple[str, ...], dialect: Dialect) -> str:
    """The INSERT's text as the driver takes it, its parameters in the order of `columns`."""
    compiled = (insert(table).values({table.c[name]: bindparam(name) for name in columns})).compile(
        dialect=dialect
    )
    assert tuple(compiled.positiontup or ()) == columns, compiled.positiontup
    return str(compiled)


def _json(value: list[str] | dict[str, Any], empty: str, sqlite: bool) -> Any:
    """A JSON column's value for bulk_insert: on SQLite the object itself (the batch's
    one JSON document carries it and `json_extract` stores its JSON text), else text."""
    if sqlite:
        return value
    return json.dumps(value, ensure_ascii=False) if value else empty


def _stamp(value: datetime, sqlite: bool) -> Any:
    """A UTC timestamp as the driver takes it (UTCDateTime's text form on SQLite)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value
