"""`ContactImporter`: source → validation → bulk store, in one transaction."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_records import CallRow
from crm.csv_import.report import ImportFailed, ImportReport, Rejected, write_rejected
from crm.csv_import.search_index import SearchIndex
from crm.csv_import.source import (
    SAMPLE,
    CsvSource,
    bad_encoding_line,
    column_targets,
    detect_encoding,
)
from crm.csv_import.store import BatchStore
from crm.csv_import.validation import ContactRow, RowValidator
from crm.database import Database
from crm.models import User

log = logging.getLogger(__name__)

BATCH = 2000  # rows stored per batch
# SQLite: an UPDATE that changes nothing, to take the write lock at the start
_TAKE_WRITE_LOCK = text("UPDATE contacts SET id = id WHERE 0")


class _DryRun(Exception):
    """Raised inside the import transaction to roll it back after a dry run."""


class ContactImporter:
    def __init__(self, db: Database, *, region: str = "RU") -> None:
        self.db = db
        self.region = region

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
        source = CsvSource(path, encoding, progress)
        try:
            with _fewer_collections():
                async with self.db.transaction() as session:
                    await self._import(session, source, report, mapping or {}, duplicates)
                    if dry_run:
                        raise _DryRun
        except _DryRun:
            pass  # the transaction was rolled back on purpose: a dry run writes nothing
        except UnicodeDecodeError as exc:
            line, why = bad_encoding_line(path, encoding)
            raise ImportFailed(f"line {line}: {why}; nothing was imported") from exc
        report.seconds = time.perf_counter() - started
        report.report_path = write_rejected(report) if report.rejected else None
        return report

    async def _import(
        self,
        session: AsyncSession,
        source: CsvSource,
        report: ImportReport,
        mapping: dict[str, str],
        duplicates: str,
    ) -> None:
        dialect = self.db.dialect
        # linking past calls is only needed when there are calls (often there are none yet)
        calls_exist = await session.scalar(select(CallRow.id).limit(1)) is not None
        if dialect == "sqlite":
            # take SQLite's write lock now: nobody else can add contacts until we are done
            await session.execute(_TAKE_WRITE_LOCK)
        index = SearchIndex(session, dialect)
        await index.suspend()
        store = BatchStore(session, dialect, duplicates, report, index, calls_exist=calls_exist)
        rows = source.rows()
        _, header = next(rows, (0, []))
        report.delimiter = source.delimiter
        if not header or not any(h.strip() for h in header):
            raise ImportFailed(f"{source.path}: no header row")
        targets = column_targets(header, mapping)
        report.columns = {h: t for h, t in zip(header, targets, strict=True)}
        if "name" not in targets:
            raise ImportFailed(
                'no column maps to the contact name; name one with --map, e.g. --map "ФИО=name"'
            )
        validator = RowValidator(targets, await _owner_keys(session), self.region)
        # Parsing (Python) and storing (the database's thread) overlap: batch k is stored
        # while batch k+1 is parsed; parsing yields to the loop now and then so the store
        # task can hand its next statement to the database.
        batch: list[ContactRow] = []
        storing: asyncio.Task[None] | None = None
        try:
            for line, cells in rows:
                if not any(c.strip() for c in cells):
                    continue
                report.rows += 1
                checked = validator.check(line, cells)
                if isinstance(checked, Rejected):
                    report.rejected.append(checked)
                else:
                    batch.append(checked)
                if len(batch) >= BATCH:
                    if storing is not None:
                        await storing
                    storing = asyncio.create_task(store.store(batch))
                    batch = []
                elif report.rows % 64 == 0:
                    await asyncio.sleep(0)
            if storing is not None:
                await storing
            if batch:
                await store.store(batch)
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
        await index.resume()


async def _owner_keys(session: AsyncSession) -> dict[str, int]:
    """Users by folded login and by folded name (what an owner cell may hold)."""
    return {
        key: uid
        for uid, login, name in (
            await session.execute(select(User.id, User.login, User.name))
        ).all()
        for key in (login.casefold(), " ".join(name.casefold().split()))
    }


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
