"""Backfill: calls Asterisk booked while Trubka was away become call records.

On every (re)connect to the PBX, and every `interval` seconds after, the new lines of
`queue_log` and of the CDR file are read from where the last run stopped; every call
that ended at least `settle` seconds ago and that Trubka has not stored becomes a
`CallBackfilled` event on the bus (stored, linked, given its recording and its
missed-call task like a live call; see trubka/wiring.py). A call still going on, or
ended just now, is read again next time: the saved cursor never passes the first line
of a call that is not finished.

The first run with no cursor starts at the end of each file: the history before
Trubka was installed is not imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol

from telephony.books import cdr
from telephony.books.cdr_table import (
    LOOKBACK,
    CdrTable,
    TableCursor,
    end_cursor,
    read_new_rows,
    read_rows,
)
from telephony.books.cursor import FileCursor, read_new
from telephony.books.queue_log import QueueCall, QueueCallAssembler, parse_line
from telephony.books.records import BooksConfig, RecordingFor, records_from_books
from telephony.domain import CallBackfilled, DomainEvent
from telephony.records import CallRecord

log = logging.getLogger(__name__)

QUEUE_LOG = "queue_log"
UNIQUE_IDS_KEPT = 50_000  # CDR unique ids remembered across runs (a few hours of calls)
REPUBLISH_AFTER = 600.0  # s: a call published and still not stored is published again
CDR_CSV = "cdr_csv"
CDR_TABLE = "cdr_table"


class CursorStore(Protocol):
    """Where a book's cursor is kept between runs (the database)."""

    async def load(self, name: str) -> dict[str, Any] | None: ...

    async def save(self, name: str, value: dict[str, Any]) -> None: ...


class KnownCalls(Protocol):
    async def known(self, linkedids: Sequence[str]) -> set[str]: ...


Publish = Callable[[Iterable[DomainEvent]], None]


@dataclass(frozen=True, slots=True)
class BookFiles:
    queue_log: Path | None = None
    cdr_csv: Path | None = None
    cdr_zone: tzinfo = UTC  # the PBX's time zone (cdr_csv writes its local time)
    cdr_table: CdrTable | None = None  # the CDR in a database table (cdr_pgsql)


@dataclass(slots=True)
class BackfillReport:
    at: float
    lines: int = 0
    calls_read: int = 0
    backfilled: list[str] = field(default_factory=list)  # linkedids
    pending: int = 0  # calls not finished or not settled yet
    problems: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # files configured but not readable
    started: list[str] = field(default_factory=list)  # books read for the first time (at end)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "lines": self.lines,
            "calls_read": self.calls_read,
            "backfilled": list(self.backfilled),
            "pending": self.pending,
            "problems": list(self.problems[:20]),
            "unreachable": list(self.unreachable),
        }


@dataclass(slots=True)
class _Read:
    lines: list[tuple[int, str]]
    end: FileCursor
    start: FileCursor


@dataclass(slots=True)
class _CdrRead:
    """The CDR rows read this run, each at its position (a byte offset in the file, an
    index among the table's rows), and how to save the cursor before a held position."""

    rows: list[tuple[int, cdr.CdrRow]]
    save: Callable[[int | None], Awaitable[None]]


class Backfill:
    def __init__(
        self,
        files: BookFiles,
        cursors: CursorStore,
        known: KnownCalls,
        publish: Publish,
        config: BooksConfig,
        *,
        recording_for: RecordingFor | None = None,
        settle: float = 10.0,
        clock: Callable[[], float] = time.time,
        in_progress: Callable[[str], bool] | None = None,
    ) -> None:
        self.files = files
        # A call the live link still follows is not over, even when its queue stay is:
        # after a transfer queue_log closes the stay (BLINDTRANSFER) while the caller talks on.
        self.in_progress = in_progress or (lambda linkedid: False)
        self.cursors = cursors
        self.known = known
        self.publish = publish
        self.config = config
        self.recording_for = recording_for
        self.settle = settle
        self.clock = clock
        self.last: BackfillReport | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._published: dict[str, float] = {}  # linkedid -> when this process published it
        # The CDR's uniqueid -> linkedid of the rows read so far (the newest ones): a
        # queue_log stay read again (its cursor held behind a longer call) after its CDR
        # row was read is still the same call, not a new one named by its callid.
        self._linked_by_unique: OrderedDict[str, str] = OrderedDict()
        self._warned: set[str] = set()

    @property
    def configured(self) -> bool:
        files = self.files
        return any(b is not None for b in (files.queue_log, files.cdr_csv, files.cdr_table))

    async def run_once(self) -> BackfillReport:
        async with self._lock:
            report = BackfillReport(at=self.clock())
            queue_read = await self._read(QUEUE_LOG, self.files.queue_log, report)
            cdr_read = await self._read_cdr(report)
            if report.started:
                log.info("backfill: %s is read from here on", ", ".join(report.started))
            await self._apply(queue_read, cdr_read, report)
            self.last = report
            return report

    async def _read(self, name: str, path: Path | None, report: BackfillReport) -> _Read | None:
        if path is None:
            return None
        stored = await self.cursors.load(name)
        try:
            if stored is None:
                # First run: start at the end (the history before Trubka is not imported);
                # a book Asterisk has not written yet is read from its start once it is.
                try:
                    _, end, _ = await asyncio.to_thread(read_new, path, FileCursor())
                except FileNotFoundError:
                    await self.cursors.save(name, FileCursor().to_json())
                    raise
                await self.cursors.save(name, end.to_json())
                report.started.append(str(path))
                return None
            start = FileCursor.from_json(stored)
            lines, end, rotated = await asyncio.to_thread(read_new, path, start)
        except OSError as exc:
            report.unreachable.append(f"{path}: {exc.strerror or exc}")
            if str(path) not in self._warned:
                self._warned.add(str(path))
                log.warning(
                    "backfill: cannot read %s (%s); calls missed while Trubka was away "
                    "are not recovered from it",
                    path,
                    exc.strerror or exc,
                )
            return None
        if rotated:
            log.info("backfill: %s was rotated; reading the new file from its start", path)
            start = FileCursor(end.device, end.inode, 0, end.head)
        report.lines += len(lines)
        return _Read(lines, end, start)

    async def _read_cdr(self, report: BackfillReport) -> _CdrRead | None:
        if self.files.cdr_table is not None:
            return await self._read_table(self.files.cdr_table, report)
        read = await self._read(CDR_CSV, self.files.cdr_csv, report)
        if read is None:
            return None
        rows: list[tuple[int, cdr.CdrRow]] = []
        for offset, text in read.lines:
            parsed, problems = cdr.parse_lines([text], self.files.cdr_zone)
            report.problems.extend(p.replace("line 1", f"byte {offset}") for p in problems)
            rows.extend((offset, row) for row in parsed)

        async def save(held: int | None) -> None:
            await self._save(CDR_CSV, read, [] if held is None else [held])

        return _CdrRead(rows, save)

    async def _read_table(self, table: CdrTable, report: BackfillReport) -> _CdrRead | None:
        zone = self.files.cdr_zone
        stored = await self.cursors.load(CDR_TABLE)
        try:
            if stored is None:  # first run: from the table's last row on
                end = await end_cursor(table, zone)
                await self.cursors.save(CDR_TABLE, end.to_json())
                return None
            read, after = await read_new_rows(table, TableCursor.from_json(stored), zone)
        except Exception as exc:  # asyncpg's and the network's errors alike
            report.unreachable.append(f"{table}: {exc}")
            if str(table) not in self._warned:
                self._warned.add(str(table))
                log.warning(
                    "backfill: cannot read the CDR table %s (%s); calls missed while "
                    "Trubka was away are not recovered from it",
                    table,
                    exc,
                )
            return None
        report.lines += len(read)

        async def save(held: int | None) -> None:
            cursor = after
            if held is not None:  # read its rows again: before it, and ended since
                calldate, sequence, row = read[held]
                if _cursor_key(TableCursor(calldate, sequence)) < _cursor_key(after):
                    cursor = TableCursor(calldate, sequence - 1, after.ended)
                end = row.end.astimezone(UTC) - timedelta(microseconds=1)
                if cursor.ended is None or end < cursor.ended:
                    cursor = TableCursor(cursor.calldate, cursor.sequence, end)
            await self.cursors.save(CDR_TABLE, cursor.to_json())

        return _CdrRead([(i, row) for i, (_, _, row) in enumerate(read)], save)

    async def _apply(
        self, queue_read: _Read | None, cdr_read: _CdrRead | None, report: BackfillReport
    ) -> None:
        now = self.clock()
        # queue_log: stays, and where each one started in the file.
        assembler = QueueCallAssembler()
        first_line: dict[str, int] = {}  # linkedid-or-callid -> offset of its first line
        stays: list[QueueCall] = []
        for offset, text in queue_read.lines if queue_read else ():
            entry = parse_line(text)
            if entry is None:
                continue
            if entry.callid and entry.callid not in ("NONE", "MANAGER"):
                first_line.setdefault(entry.callid, offset)
            stays.extend(assembler.feed([entry]))
        open_calls = {callid for callid, _ in assembler.open}
        # CDR: rows by linkedid, and where each call's first row is.
        rows: list[cdr.CdrRow] = []
        cdr_first: dict[str, int] = {}
        for offset, row in cdr_read.rows if cdr_read else ():
            rows.append(row)
            cdr_first.setdefault(row.linkedid, offset)
        calls = cdr.calls(rows)
        for call in calls:
            for row in call.rows:
                self._linked_by_unique[row.uniqueid] = call.linkedid
                self._linked_by_unique.move_to_end(row.uniqueid)
        while len(self._linked_by_unique) > UNIQUE_IDS_KEPT:
            self._linked_by_unique.popitem(last=False)
        unique_to_linked = self._linked_by_unique
        read_now = {row.uniqueid for c in calls for row in c.rows}
        unsettled: set[str] = set()
        for callid in open_calls:
            unsettled.add(unique_to_linked.get(callid, callid))
        for stay in stays:
            if stay.ended_at > now - self.settle:
                unsettled.add(unique_to_linked.get(stay.callid, stay.callid))
        for call in calls:
            if call.ended_at.timestamp() > now - self.settle:
                unsettled.add(call.linkedid)
        for stay in stays:
            linkedid = unique_to_linked.get(stay.callid, stay.callid)
            if self.in_progress(linkedid):
                unsettled.add(linkedid)
        for call in calls:
            if self.in_progress(call.linkedid):
                unsettled.add(call.linkedid)
        ready_stays = [
            s
            for s in stays
            if unique_to_linked.get(s.callid, s.callid) not in unsettled
            # its CDR row came in an earlier run, which dealt with the call
            and (s.callid in read_now or s.callid not in unique_to_linked)
        ]
        ready_calls = [c for c in calls if c.linkedid not in unsettled]
        records = records_from_books(
            ready_stays, ready_calls, self.config, self.recording_for or _no_recording
        )
        report.calls_read = len(records)
        report.pending = len(unsettled)
        known = await self._known([r.linkedid for r in records])
        # A call published by an earlier run may not be stored yet (the writer batches):
        # it is not published again while it is that fresh.
        self._published = {k: t for k, t in self._published.items() if t > now - REPUBLISH_AFTER}
        fresh = [
            r for r in records if r.linkedid not in known and r.linkedid not in self._published
        ]
        for record in fresh:
            self._published[record.linkedid] = now
        if fresh:
            self.publish([CallBackfilled(record) for record in fresh])
            report.backfilled = [r.linkedid for r in fresh]
            log.info("backfill: %d call(s) recovered from Asterisk's books", len(fresh))
        # Cursors: never past the first line of a call that is not done.
        if queue_read is not None:
            held = [first_line[c] for c in first_line if unique_to_linked.get(c, c) in unsettled]
            await self._save(QUEUE_LOG, queue_read, held)
        if cdr_read is not None:
            held = [offset for linkedid, offset in cdr_first.items() if linkedid in unsettled]
            await cdr_read.save(min(held) if held else None)

    async def _known(self, linkedids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(linkedids), 500):
            found |= await self.known.known(linkedids[i : i + 500])
        return found

    async def _save(self, name: str, read: _Read, held: list[int]) -> None:
        end = read.end
        if held:
            end = FileCursor(end.device, end.inode, min(held), end.head)
        await self.cursors.save(name, end.to_json())

    def wake(self) -> None:
        """Run now (the AMI client calls this on every connect, after its resync)."""
        self._wake.set()

    async def run(self, interval: float = 60.0) -> None:
        """Run every `interval` seconds, and at once when woken."""
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("backfill: a run failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()


def _cursor_key(cursor: TableCursor) -> tuple[datetime, int]:
    return (cursor.calldate or datetime.min.replace(tzinfo=UTC), cursor.sequence)


def _no_recording(_uniqueid: str) -> str | None:
    return None


def spool_recordings(spool: Path | None, pbx_dir: Path) -> RecordingFor:
    """A call's recording as the PBX names it, when the spool holds a file of its unique
    id (`1796524262.0.wav`): MixMonitor's file is named by the caller channel's id."""

    def recording_for(uniqueid: str) -> str | None:
        if spool is None or not uniqueid or "/" in uniqueid:
            return None
        for suffix in (".wav", ".WAV", ".gsm", ".mp3", ".ogg"):
            if (spool / f"{uniqueid}{suffix}").is_file():
                return str(pbx_dir / f"{uniqueid}{suffix}")
        return None

    return recording_for


@dataclass(slots=True)
class Books:
    """Everything the configured books say (for `trubka reconcile`)."""

    records: list[CallRecord]
    cdr_read: bool
    problems: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


def read_books(
    files: BookFiles,
    config: BooksConfig,
    recording_for: RecordingFor | None = None,
    cdr_rows: Sequence[cdr.CdrRow] | None = None,
) -> Books:
    """Read the books whole (blocking: run it in a thread) into call records; `cdr_rows`
    are the CDR table's rows, when it was read (see `read_all_books`)."""
    problems: list[str] = []
    unreachable: list[str] = []
    stays: list[QueueCall] = []
    cdr_calls: list[cdr.CdrCall] = []
    cdr_read = False
    if files.queue_log is not None:
        try:
            with files.queue_log.open(encoding="utf-8", errors="replace") as f:
                entries = (e for e in map(parse_line, f) if e is not None)
                stays = QueueCallAssembler().feed(entries)
        except OSError as exc:
            unreachable.append(f"{files.queue_log}: {exc.strerror or exc}")
    if files.cdr_csv is not None:
        try:
            with files.cdr_csv.open(encoding="utf-8", errors="replace", newline="") as f:
                rows, problems = cdr.parse_lines(f, files.cdr_zone)
            cdr_calls = cdr.calls(rows)
            cdr_read = True
        except OSError as exc:
            unreachable.append(f"{files.cdr_csv}: {exc.strerror or exc}")
    if cdr_rows is not None:
        cdr_calls = cdr.calls(cdr_rows)
        cdr_read = True
    records = records_from_books(stays, cdr_calls, config, recording_for or _no_recording)
    return Books(records, cdr_read, problems, unreachable)


async def read_all_books(
    files: BookFiles,
    config: BooksConfig,
    recording_for: RecordingFor | None = None,
    *,
    since: datetime | None = None,
) -> Books:
    """The books whole, the CDR table's rows from `since` (less `LOOKBACK`: a call's rows
    are under its start) on, or all of them."""
    table = files.cdr_table
    if table is None:
        return await asyncio.to_thread(read_books, files, config, recording_for)
    rows: list[cdr.CdrRow] | None = None
    unreachable: list[str] = []
    try:
        start = since - LOOKBACK if since is not None else None
        rows = [row for _, _, row in await read_rows(table, files.cdr_zone, since=start)]
    except Exception as exc:  # asyncpg's and the network's errors alike
        unreachable.append(f"{table}: {exc}")
    books = await asyncio.to_thread(read_books, files, config, recording_for, rows)
    books.unreachable.extend(unreachable)
    return books
