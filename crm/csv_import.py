"""Importing contacts from CSV (`trubka import contacts FILE.csv`).

- Encoding: UTF-8 (with or without BOM) or Windows-1251, detected from the bytes (or
  forced); separator `;`, `,` or tab, sniffed from the header.
- Columns map to fields by header (`Телефон`, `phone`, `ФИО`, `name` … see `SYNONYMS`)
  or by `--map "Телефон=phone,ФИО=name"`. Fields: name, phone (several columns or
  several numbers in a cell separated by `;`/`,`), phone_unverified (kept as entered and
  flagged invalid, what export writes for numbers that do not parse), email, company
  (found by name or created), owner (a user's login or name), tags, and `custom.KEY`;
  any other column becomes a custom field named after its header.
- A row is rejected (and listed with its line number and reason in
  `FILE.rejected.csv` next to the file) for a missing name, a bad phone or e-mail, an
  unknown owner, an over-long value, or — with `--duplicates report` — a number that
  already belongs to a contact. With `--duplicates merge` (the default) such a row adds
  its numbers, e-mails, tags and missing fields to that contact instead.
- Cells the exporter escaped for spreadsheets (`'=…`, see `crm.csv_cells`) are read
  back as they were stored.
- Everything happens in one transaction: a broken file (bad encoding, broken quoting)
  stops the import with the line number and nothing is written; `--dry-run` rolls
  the transaction back at the end.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import gc
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm import numbers
from crm.contacts import clean_tags, contact_search_text
from crm.csv_cells import escape_cell, unescape_cell
from crm.database import Database
from crm.errors import CrmError
from crm.linking import relink_numbers
from crm.models import Company, Contact, ContactTag, Phone, User
from crm.words import search_text

log = logging.getLogger(__name__)

FIELDS = ("name", "phone", "phone_unverified", "email", "company", "owner", "tags")
SYNONYMS = {
    "name": (
        "name",
        "full name",
        "fullname",
        "contact",
        "имя",
        "фио",
        "ф.и.о.",
        "контакт",
        "клиент",
    ),
    "phone": (
        "phone",
        "phones",
        "telephone",
        "mobile",
        "tel",
        "телефон",
        "телефоны",
        "тел",
        "тел.",
        "мобильный",
        "номер",
    ),
    "phone_unverified": ("phone_unverified",),
    "email": ("email", "e-mail", "emails", "mail", "почта", "эл. почта", "электронная почта"),
    "company": ("company", "organization", "organisation", "компания", "организация", "фирма"),
    "owner": ("owner", "manager", "responsible", "менеджер", "ответственный", "владелец"),
    "tags": ("tags", "tag", "labels", "теги", "метки", "тег"),
}
_SPLIT = re.compile(r"[;,]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
BATCH = 2000
SAMPLE = 64 * 1024


class _DryRun(Exception):
    """Raised inside the import transaction to roll it back after a dry run."""


class ImportFailed(CrmError):
    """The file cannot be read as CSV; nothing was written."""

    code = "import_failed"


@dataclass
class Rejected:
    line: int
    reason: str
    cells: list[str]


@dataclass
class ImportReport:
    path: Path
    encoding: str
    delimiter: str
    rows: int = 0
    created: int = 0
    merged: int = 0
    companies_created: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header -> field
    report_path: Path | None = None
    dry_run: bool = False
    seconds: float = 0.0


@dataclass
class _Row:
    line: int
    cells: list[str]
    name: str
    numbers: list[numbers.NumberInput]
    emails: list[str]
    company: str | None
    owner_id: int | None
    tags: list[str]
    custom: dict[str, Any]


def parse_map(text: str | None) -> dict[str, str]:
    """`"Телефон=phone,ФИО=name"` → {"телефон": "phone", "фио": "name"} (headers folded)."""
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for part in text.split(","):
        if not part.strip():
            continue
        header, sep, target = part.partition("=")
        target = target.strip()
        if not sep or not header.strip() or not target:
            raise ImportFailed(f"--map: {part.strip()!r} is not HEADER=FIELD")
        if target not in FIELDS and not target.startswith("custom."):
            raise ImportFailed(
                f"--map: unknown field {target!r} (use {', '.join(FIELDS)} or custom.NAME)"
            )
        mapping[_fold_header(header)] = target
    return mapping


def _fold_header(header: str) -> str:
    return " ".join(header.strip().lstrip("\ufeff").casefold().split())


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig, utf-8 or cp1251, from the first bytes of the file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # the sample cut a character in two
        # Valid two-byte Cyrillic UTF-8 sequences mean a UTF-8 file with a broken byte.
        if len(re.findall(rb"[\xd0\xd1][\x80-\xbf]", sample)) > 3:
            return "utf-8"
        return "cp1251"


def _bad_encoding_line(path: Path, encoding: str) -> tuple[int, str]:
    with path.open("rb") as handle:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return number, f"bytes {line[exc.start : exc.end]!r} are not {encoding}"
    return 0, "the file ends in the middle of a character"


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


class _Progress(io.RawIOBase):
    """Counts bytes read, for the progress bar."""

    def __init__(self, raw: BinaryIO, callback: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.callback = callback
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.done += n
        if self.callback is not None and n:
            self.callback(n)
        return n


class ContactImporter:
    def __init__(self, db: Database, *, region: str = "RU") -> None:
        self.db = db
        self.region = region
        self._next_ids: dict[str, int] = {}
        self._calls_exist = True
        self._index: _SearchIndex

    async def run(
        self,
        path: Path,
        *,
        mapping: dict[str, str] | None = None,
        dry_run: bool = False,
        duplicates: str = "merge",
        encoding: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        if duplicates not in ("merge", "report"):
            raise ImportFailed("--duplicates must be merge or report")
        started = time.perf_counter()
        with path.open("rb") as handle:
            sample = handle.read(SAMPLE)
        if not sample.strip():
            raise ImportFailed(f"{path}: the file is empty")
        encoding = encoding or detect_encoding(sample)
        report = ImportReport(path=path, encoding=encoding, delimiter=",", dry_run=dry_run)
        try:
            with _fewer_collections():
                async with self.db.transaction() as session:
                    await self._import(session, path, report, mapping or {}, duplicates, progress)
                    if dry_run:
                        raise _DryRun
        except _DryRun:
            pass  # the transaction was rolled back on purpose: a dry run writes nothing
        except UnicodeDecodeError as exc:
            line, why = _bad_encoding_line(path, encoding)
            raise ImportFailed(f"line {line}: {why}; nothing was imported") from exc
        report.seconds = time.perf_counter() - started
        report.report_path = self._write_rejected(report) if report.rejected else None
        return report

    def _write_rejected(self, report: ImportReport) -> Path:
        target = report.path.with_name(report.path.stem + ".rejected.csv")
        with target.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=report.delimiter)
            writer.writerow(["line", "reason", *report.columns.keys()])
            for item in report.rejected:
                writer.writerow(
                    [escape_cell(c) for c in (str(item.line), item.reason, *item.cells)]
                )
        return target

    def _rows(
        self, path: Path, report: ImportReport, progress: Callable[[int], None] | None
    ) -> Iterator[tuple[int, list[str]]]:
        with path.open("rb") as raw:
            counted = io.BufferedReader(_Progress(raw, progress), buffer_size=256 * 1024)
            text = io.TextIOWrapper(counted, encoding=report.encoding, errors="strict", newline="")
            first = text.readline()
            report.delimiter = sniff_delimiter(first)
            reader = csv.reader(
                _chain_first(first, text),
                delimiter=report.delimiter,
                strict=True,
                skipinitialspace=False,
            )
            start = 1
            try:
                for cells in reader:
                    yield start, [unescape_cell(c) if c[:1] == "'" else c for c in cells]
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise ImportFailed(
                    f"line {max(start, reader.line_num)}: broken CSV ({exc}); nothing was imported"
                ) from exc

    async def _import(
        self,
        session: AsyncSession,
        path: Path,
        report: ImportReport,
        mapping: dict[str, str],
        duplicates: str,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._next_ids = {}
        # linking past calls is only needed when there are calls (often there are none yet)
        self._calls_exist = await session.scalar(text("SELECT 1 FROM calls LIMIT 1")) is not None
        if self.db.dialect == "sqlite":
            # take SQLite's write lock now: nobody else can add contacts until we are done
            await session.execute(text("UPDATE contacts SET id = id WHERE 0"))
        self._index = _SearchIndex(session, self.db.dialect)
        await self._index.suspend()
        users = {
            key: uid
            for uid, login, name in (
                await session.execute(select(User.id, User.login, User.name))
            ).all()
            for key in (login.casefold(), " ".join(name.casefold().split()))
        }
        companies: dict[str, int] = {}
        rows = self._rows(path, report, progress)
        _, header = next(rows, (0, []))
        if not header or not any(h.strip() for h in header):
            raise ImportFailed(f"{path}: no header row")
        targets = self._columns(header, mapping)
        report.columns = {h: t for h, t in zip(header, targets, strict=True)}
        if "name" not in targets:
            raise ImportFailed(
                'no column maps to the contact name; name one with --map, e.g. --map "ФИО=name"'
            )
        # Parsing (Python) and storing (the database's thread) overlap: batch k is stored
        # while batch k+1 is parsed; parsing yields to the loop now and then so the store
        # task can hand its next statement to the database.
        batch: list[_Row] = []
        storing: asyncio.Task[None] | None = None
        try:
            for line, cells in rows:
                if not any(c.strip() for c in cells):
                    continue
                report.rows += 1
                row = self._row(line, cells, targets, users, report)
                if row is not None:
                    batch.append(row)
                if len(batch) >= BATCH:
                    if storing is not None:
                        await storing
                    storing = asyncio.create_task(
                        self._store(session, batch, companies, duplicates, report)
                    )
                    batch = []
                elif report.rows % 64 == 0:
                    await asyncio.sleep(0)
            if storing is not None:
                await storing
            if batch:
                await self._store(session, batch, companies, duplicates, report)
        finally:
            # Let a running batch finish rather than cancel it mid-statement (a driver
            # interrupted inside a query can leave the connection unusable for the
            # rollback that follows); its own error, if any, is secondary to ours.
            if storing is not None and not storing.done():
                try:
                    await asyncio.shield(storing)
                except Exception:
                    log.warning("import: the batch being stored failed as well", exc_info=True)
        report.rejected.sort(key=lambda r: r.line)
        await self._index.resume()

    def _columns(self, header: list[str], mapping: dict[str, str]) -> list[str]:
        lookup = {syn: target for target, names in SYNONYMS.items() for syn in names}
        targets = []
        for cell in header:
            key = _fold_header(cell)
            if key in mapping:
                targets.append(mapping[key])
            elif key.startswith("custom."):
                targets.append("custom." + cell.strip()[len("custom.") :])
            elif key in lookup:
                targets.append(lookup[key])
            else:
                targets.append("custom." + cell.strip().lstrip("\ufeff"))
        return targets

    def _row(
        self,
        line: int,
        cells: list[str],
        targets: list[str],
        users: dict[str, int],
        report: ImportReport,
    ) -> _Row | None:
        def reject(reason: str) -> None:
            report.rejected.append(Rejected(line, reason, cells))

        if len(cells) > len(targets):
            extra = [c for c in cells[len(targets) :] if c.strip()]
            if extra:
                reject(f"{len(cells)} cells but the header has {len(targets)} columns")
                return None
        plan = _plan(targets)
        size = len(cells)
        name = ""
        for i in plan.name:
            if i < size and (value := cells[i]) and not value.isspace():
                value = value.strip()
                name = (
                    " ".join(value.split())
                    if "  " in value or "\t" in value or "\n" in value
                    else value
                )
        raw_numbers: list[tuple[str, bool]] = []
        for i, must_be_valid in plan.phones:
            if i < size and (value := cells[i]) and not value.isspace():
                value = value.strip()
                if ";" in value or "," in value:
                    raw_numbers.extend(
                        (p.strip(), must_be_valid) for p in _SPLIT.split(value) if p.strip()
                    )
                else:
                    raw_numbers.append((value, must_be_valid))
        emails: list[str] = []
        for i in plan.emails:
            if i < size and (value := cells[i]) and not value.isspace():
                value = value.strip()
                if ";" in value or "," in value or " " in value:
                    emails.extend(e for e in re.split(r"[;,\s]+", value) if e)
                else:
                    emails.append(value)
        company = None
        for i in plan.company:
            if i < size and (value := cells[i]) and not value.isspace():
                company = " ".join(value.split())
        owner = None
        for i in plan.owner:
            if i < size and (value := cells[i]) and not value.isspace():
                owner = value.strip()
        tags: list[str] = []
        for i in plan.tags:
            if i < size and (value := cells[i]) and not value.isspace():
                tags.extend(t for t in _SPLIT.split(value.strip()) if t.strip())
        custom: dict[str, Any] = {}
        for i, key in plan.custom:
            if i < size and (value := cells[i]) and not value.isspace():
                custom[key] = value.strip()[:2000]
        if not name:
            reject("missing name")
            return None
        if len(name) > 255:
            reject("the name is longer than 255 characters")
            return None
        if company is not None and len(company) > 255:
            reject("the company name is longer than 255 characters")
            return None
        prepared: list[numbers.NumberInput] = []
        seen: set[str] = set()
        for raw, must_be_valid in raw_numbers:
            try:
                item = numbers.prepare(raw, self.region)
            except CrmError as exc:
                reject(f"bad phone {raw[:70]!r}: {exc.message}")
                return None
            if must_be_valid and not item.valid:
                reject(f"bad phone {raw!r}")
                return None
            if item.number not in seen:
                seen.add(item.number)
                prepared.append(item)
        if len(prepared) > 20:
            reject("more than 20 phone numbers")
            return None
        for email in emails:
            if len(email) > 254 or not _EMAIL.match(email):
                reject(f"bad e-mail {email[:70]!r}")
                return None
        owner_id = None
        if owner is not None:
            owner_id = users.get(" ".join(owner.casefold().split()))
            if owner_id is None:
                reject(f"unknown owner {owner[:70]!r} (use a user's login or name)")
                return None
        cleaned_tags = clean_tags(tags)
        if len(cleaned_tags) > 50:
            reject("more than 50 tags")
            return None
        return _Row(
            line,
            cells,
            name,
            prepared,
            list(dict.fromkeys(emails)),
            company,
            owner_id,
            cleaned_tags,
            custom,
        )

    async def _allocate_ids(
        self, session: AsyncSession, count: int, table: str = "contacts"
    ) -> list[int]:
        """Ids for new rows, so they can be written with one executemany.

        SQLite: the import holds the write lock from its first statement on, so the
        next ids are simply after the largest. PostgreSQL: taken from the sequence.
        """
        if self.db.dialect == "sqlite":
            if table not in self._next_ids:
                self._next_ids[table] = (
                    int(
                        await session.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")) or 0
                    )
                    + 1
                )
            first = self._next_ids[table]
            self._next_ids[table] += count
            return list(range(first, first + count))
        result = await session.execute(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM "
                "generate_series(1, :n)"
            ),
            {"n": count},
        )
        return [int(r[0]) for r in result]

    async def _company_ids(
        self,
        session: AsyncSession,
        names: Sequence[str],
        cache: dict[str, int],
        report: ImportReport,
    ) -> None:
        wanted: dict[str, str] = {}
        for name in names:  # the first spelling in the file wins
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
        stamp = _stamp(datetime.now(UTC), self.db.dialect)
        ids = await self._allocate_ids(session, len(new), "companies")
        await _bulk_insert(
            session,
            "companies",
            ("id", "name", "custom", "search_text", "created_at", "updated_at", "version"),
            [
                (cid, name, "{}", search_text([name]), stamp, stamp, 1)
                for cid, (_, name) in zip(ids, new, strict=True)
            ],
        )
        await self._index.added("companies", ids[0], ids[-1])
        for cid, (key, _) in zip(ids, new, strict=True):
            cache[key] = cid
        report.companies_created += len(new)

    async def _store(
        self,
        session: AsyncSession,
        batch: list[_Row],
        companies: dict[str, int],
        duplicates: str,
        report: ImportReport,
    ) -> None:
        # 1. duplicates inside the batch: fold later rows into the first one with a shared number
        first_with: dict[str, _Row] = {}
        unique: list[_Row] = []
        for row in batch:
            earlier = next(
                (first_with[n.number] for n in row.numbers if n.number in first_with), None
            )
            if earlier is None:
                unique.append(row)
                for n in row.numbers:
                    first_with[n.number] = row
                continue
            if duplicates == "report":
                report.rejected.append(
                    Rejected(
                        row.line, f"duplicate of line {earlier.line} (same phone number)", row.cells
                    )
                )
                continue
            _fold(earlier, row)
            report.merged += 1
            for n in row.numbers:
                first_with.setdefault(n.number, earlier)
        # 2. numbers that already belong to a contact
        all_numbers = [n.number for row in unique for n in row.numbers]
        existing: dict[str, int] = {}
        conn = await session.connection()
        if self.db.dialect == "sqlite":
            # one statement for the batch (see _bulk_insert: fewer GIL hand-offs)
            result = await conn.exec_driver_sql(
                "SELECT number, MIN(contact_id) FROM phones WHERE number IN "
                "(SELECT value FROM json_each(?)) AND contact_id IS NOT NULL GROUP BY number",
                (json.dumps(all_numbers),),
            )
            existing.update((number, contact_id) for number, contact_id in result)
        else:
            for start in range(0, len(all_numbers), 500):
                chunk = tuple(all_numbers[start : start + 500])
                marks = ", ".join(f"${i}" for i in range(1, len(chunk) + 1))
                result = await conn.exec_driver_sql(
                    f"SELECT number, MIN(contact_id) FROM phones WHERE number IN ({marks}) "
                    "AND contact_id IS NOT NULL GROUP BY number",
                    chunk,
                )
                existing.update((number, contact_id) for number, contact_id in result)
        fresh: list[_Row] = []
        merges: dict[int, list[_Row]] = {}
        for row in unique:
            owner = next((existing[n.number] for n in row.numbers if n.number in existing), None)
            if owner is None:
                fresh.append(row)
            elif duplicates == "report":
                report.rejected.append(
                    Rejected(
                        row.line, f"duplicate of contact #{owner} (same phone number)", row.cells
                    )
                )
            else:
                merges.setdefault(owner, []).append(row)
        await self._company_ids(
            session,
            [
                r.company
                for r in sorted(
                    fresh + [m for ms in merges.values() for m in ms], key=lambda r: r.line
                )
                if r.company
            ],
            companies,
            report,
        )
        touched: set[str] = set()
        # 3. new contacts, their numbers and tags
        if fresh:
            dialect = self.db.dialect
            sqlite = dialect == "sqlite"
            stamp = _stamp(datetime.now(UTC), dialect)
            ids = await self._allocate_ids(session, len(fresh))
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
            await _bulk_insert(
                session,
                "contacts",
                (
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
                ),
                contact_rows,
            )
            await self._index.added("contacts", ids[0], ids[-1])
            phone_rows: list[tuple[Any, ...]] = []
            tag_rows: list[tuple[Any, ...]] = []
            for contact_id, row in zip(ids, fresh, strict=True):
                for position, n in enumerate(row.numbers):
                    phone_rows.append(
                        (contact_id, n.raw, n.number, n.valid, n.digits_rev, n.label, position)
                    )
                    touched.add(n.number)
                tag_rows.extend((contact_id, t) for t in row.tags)
            await _bulk_insert(
                session,
                "phones",
                ("contact_id", "raw", "number", "valid", "digits_rev", "label", "position"),
                phone_rows,
            )
            await _bulk_insert(session, "contact_tags", ("contact_id", "tag"), tag_rows)
            report.created += len(fresh)
        # 4. merges into contacts that were there before this batch
        for contact_id, rows in merges.items():
            touched |= await self._merge_into(session, contact_id, rows, companies)
            report.merged += len(rows)
        if self._calls_exist:
            await relink_numbers(session, touched)

    async def _merge_into(
        self,
        session: AsyncSession,
        contact_id: int,
        rows: Sequence[_Row],
        companies: dict[str, int],
    ) -> set[str]:
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
                company_id = companies[row.company.casefold()]
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
        await self._index.changed("contacts", contact_id, old_text, contact.search_text)
        # a contact that gained a company: its calls now belong to the company too
        return have if company_changed else added


@dataclass(frozen=True)
class _Plan:
    """Which cells feed which field, in column order (several columns may feed one)."""

    name: tuple[int, ...]
    phones: tuple[tuple[int, bool], ...]  # (cell, must be a valid number)
    emails: tuple[int, ...]
    company: tuple[int, ...]
    owner: tuple[int, ...]
    tags: tuple[int, ...]
    custom: tuple[tuple[int, str], ...]  # (cell, custom field name)


@lru_cache(maxsize=8)
def _plan_for(targets: tuple[str, ...]) -> _Plan:
    def cells(field: str) -> tuple[int, ...]:
        return tuple(i for i, t in enumerate(targets) if t == field)

    return _Plan(
        name=cells("name"),
        phones=tuple(
            (i, t == "phone") for i, t in enumerate(targets) if t in ("phone", "phone_unverified")
        ),
        emails=cells("email"),
        company=cells("company"),
        owner=cells("owner"),
        tags=cells("tags"),
        custom=tuple(
            (i, t[len("custom.") :][:64]) for i, t in enumerate(targets) if t.startswith("custom.")
        ),
    )


def _plan(targets: list[str]) -> _Plan:
    return _plan_for(tuple(targets))


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cyclic GC took ~20% of an import's parsing time: every row makes a few dozen
    containers, so collections ran every few rows and the oldest ones walked every
    object of the process (SQLAlchemy's, phonenumbers' metadata …). During an import,
    what existed before is left out of collections (`gc.freeze`) and they run less
    often; both are undone afterwards. (`trubka import` runs in its own process.)"""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _fold(into: _Row, other: _Row) -> None:
    known = {n.number for n in into.numbers}
    into.numbers.extend(n for n in other.numbers if n.number not in known)
    into.emails.extend(e for e in other.emails if e not in into.emails)
    into.tags = clean_tags([*into.tags, *other.tags])
    for key, value in other.custom.items():
        into.custom.setdefault(key, value)
    into.company = into.company or other.company
    into.owner_id = into.owner_id if into.owner_id is not None else other.owner_id


async def _bulk_insert(
    session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Rows straight to the driver (no per-row SQLAlchemy processing): values must
    already be what the driver takes (JSON as text; on SQLite, timestamps as text).

    PostgreSQL: asyncpg's executemany. SQLite: the whole batch as one JSON array read by
    `json_each` in a single `INSERT … SELECT` — one statement step instead of one per row,
    so the database thread does not wait for the GIL (held by the parser) between rows.
    """
    if not rows:
        return
    conn = await session.connection()
    names = ", ".join(columns)
    if conn.dialect.name == "sqlite":
        values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns)))
        await conn.exec_driver_sql(
            f"INSERT INTO {table} ({names}) SELECT {values} FROM json_each(?)",
            (json.dumps(rows, ensure_ascii=False),),
        )
        return
    marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    await conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def _json(value: list[str] | dict[str, Any], empty: str, sqlite: bool) -> Any:
    """A JSON column's value for _bulk_insert: on SQLite the object itself (the batch's
    one JSON document carries it and `json_extract` stores its JSON text), else text."""
    if sqlite:
        return value
    return json.dumps(value, ensure_ascii=False) if value else empty


def _stamp(value: datetime, dialect: str) -> Any:
    """A UTC timestamp as the driver takes it (UTCDateTime's text form on SQLite)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else value


_FTS_TRIGGERS = tuple(f"{t}_fts_{k}" for t in ("contacts", "companies") for k in ("ai", "ad", "au"))


class _SearchIndex:
    """On SQLite the per-row FTS triggers cost ~80 µs a row; during an import they are
    dropped (inside the import's transaction, so a failure restores them) and the FTS
    tables are fed in bulk instead. PostgreSQL's GIN index needs nothing."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.sqlite = dialect == "sqlite"
        self.saved: list[str] = []

    async def suspend(self) -> None:
        if not self.sqlite:
            return
        names = ", ".join(f"'{n}'" for n in _FTS_TRIGGERS)
        rows = await self.session.execute(
            text(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({names})"
            )
        )
        for name, sql in rows.all():
            self.saved.append(sql)
            await self.session.execute(text(f'DROP TRIGGER "{name}"'))

    async def resume(self) -> None:
        for sql in self.saved:
            await self.session.execute(text(sql))
        self.saved = []

    async def added(self, table: str, first_id: int, last_id: int) -> None:
        if self.sqlite and self.saved:
            await self.session.execute(
                text(
                    f"INSERT INTO {table}_fts(rowid, search_text) SELECT id, search_text FROM "
                    f"{table} WHERE id BETWEEN :a AND :b"
                ),
                {"a": first_id, "b": last_id},
            )

    async def changed(self, table: str, row_id: int, old_text: str, new_text: str) -> None:
        if self.sqlite and self.saved and old_text != new_text:
            await self.session.execute(
                text(
                    f"INSERT INTO {table}_fts({table}_fts, rowid, search_text) VALUES ('delete', "
                    ":id, :old)"
                ),
                {"id": row_id, "old": old_text},
            )
            await self.session.execute(
                text(f"INSERT INTO {table}_fts(rowid, search_text) VALUES (:id, :new)"),
                {"id": row_id, "new": new_text},
            )


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def _chain_first(first: str, rest: io.TextIOWrapper) -> Iterator[str]:
    yield first
    yield from rest
