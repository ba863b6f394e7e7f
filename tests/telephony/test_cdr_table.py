"""The CDR in a PostgreSQL table (`cdr_pgsql`): read as `Master.csv` is, backfilled once.

Runs against the real PostgreSQL server of TRUBKA_TEST_PG_URL: a fresh database (one for
the module) gets, for each test, a new table shaped like cdr_pgsql's, holding the lab's
Master.csv rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from telephony.books import cdr
from telephony.books.backfill import CDR_TABLE, Backfill, BookFiles, read_all_books
from telephony.books.cdr_table import CdrTable, CdrTableError, TableCursor, read_rows
from telephony.books.records import BooksConfig
from tests.kit_db import fresh_pg_database, in_thread, plain_url
from tests.telephony.kit_books import MASTER_CSV
from tests.telephony.test_backfill import LAST_END, Bus, Cursors, Known

pytestmark = pytest.mark.postgres

# cdr_pgsql's columns (Asterisk's contrib schema), `calldate` with or without a zone.
CREATE = """
CREATE TABLE {name} (
    calldate {calldate} NOT NULL DEFAULT now(),
    clid varchar(80) NOT NULL DEFAULT '',
    src varchar(80) NOT NULL DEFAULT '',
    dst varchar(80) NOT NULL DEFAULT '',
    dcontext varchar(80) NOT NULL DEFAULT '',
    channel varchar(80) NOT NULL DEFAULT '',
    dstchannel varchar(80) NOT NULL DEFAULT '',
    lastapp varchar(80) NOT NULL DEFAULT '',
    lastdata varchar(80) NOT NULL DEFAULT '',
    duration bigint NOT NULL DEFAULT 0,
    billsec bigint NOT NULL DEFAULT 0,
    disposition varchar(45) NOT NULL DEFAULT '',
    amaflags bigint NOT NULL DEFAULT 0,
    accountcode varchar(20) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '',
    userfield varchar(255) NOT NULL DEFAULT '',
    peeraccount varchar(20) NOT NULL DEFAULT '',
    linkedid varchar(150) NOT NULL DEFAULT '',
    sequence int NOT NULL DEFAULT 0
)
"""
INSERT = """
INSERT INTO {name} (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp,
    lastdata, duration, billsec, disposition, amaflags, accountcode, uniqueid, userfield,
    peeraccount, linkedid, sequence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 3, $13, $14, $15, '', $16, $17)
"""
CSV_ROWS, _ = cdr.parse_lines(MASTER_CSV.splitlines(keepends=True), UTC)


def _sql(url: str, *statements: tuple[str, list[Any]]) -> None:
    async def run() -> None:
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(plain_url(url))
        try:
            for sql, args in statements:
                await conn.execute(sql, *args)
        finally:
            await conn.close()

    in_thread(lambda: asyncio.run(run()))


def _insert(url: str, rows: list[cdr.CdrRow], *, naive: bool, name: str = "cdr") -> None:
    statements = []
    for r in rows:
        calldate: datetime = r.start.replace(tzinfo=None) if naive else r.start
        values = [calldate, r.clid, r.src, r.dst, r.dcontext, r.channel, r.dstchannel]
        values += [r.lastapp, r.lastdata, r.duration, r.billsec, r.disposition]
        values += [r.accountcode, r.uniqueid, r.userfield, r.linkedid, r.sequence]
        statements.append((INSERT.format(name=name), values))
    _sql(url, *statements)


@pytest.fixture(scope="module")
def cdr_database() -> Iterator[str]:
    """One fresh database for this module's tests (creating and dropping a database is
    the slowest thing PostgreSQL does: about two seconds a test on a busy machine)."""
    with fresh_pg_database("trubka_cdr", migrate=False) as url:
        yield url


@pytest.fixture(params=["timestamp with time zone", "timestamp"])
def table(request: pytest.FixtureRequest, cdr_database: str) -> tuple[str, bool]:
    """A new, empty `cdr` table in the module's database, as each test starts."""
    url = cdr_database
    _sql(
        url,
        ("DROP TABLE IF EXISTS cdr", []),
        (CREATE.format(name="cdr", calldate=request.param), []),
    )
    return url, request.param == "timestamp"


def _comparable(row: cdr.CdrRow) -> cdr.CdrRow:
    # cdr_csv writes the start as the answer of an unanswered leg; the table has no answer.
    return row if row.disposition == cdr.ANSWERED else dataclasses.replace(row, answer=None)


async def test_the_table_reads_as_master_csv_does(table: tuple[str, bool]) -> None:
    url, naive = table
    _insert(url, CSV_ROWS, naive=naive)
    read = await read_rows(CdrTable.parse(url + "#cdr"), UTC)
    assert [row for _, _, row in read] == [_comparable(r) for r in CSV_ROWS]
    assert [(at, sequence) for at, sequence, _ in read] == [
        (r.start.astimezone(UTC), r.sequence) for r in CSV_ROWS
    ]
    answered = read[0][2]
    assert answered.answer == datetime(2026, 12, 6, 1, 27, 55, tzinfo=UTC)  # end - billsec
    since = datetime(2026, 12, 6, 1, 28, tzinfo=UTC)
    later = await read_rows(CdrTable.parse(url + "#cdr"), UTC, since=since)
    assert [row.linkedid for _, _, row in later] == ["1796520493.8", "1796520493.8"]


def _backfill(url: str, cursors: Cursors) -> tuple[Backfill, Bus]:
    known = Known()
    bus = Bus(known)
    files = BookFiles(cdr_table=CdrTable.parse(url + "#cdr"))
    backfill = Backfill(
        files, cursors, known, bus.publish, BooksConfig(), settle=10.0, clock=lambda: LAST_END + 60
    )
    return backfill, bus


async def test_calls_in_the_table_after_the_cursor_are_backfilled_once(
    table: tuple[str, bool],
) -> None:
    url, naive = table
    cursors = Cursors()
    backfill, bus = _backfill(url, cursors)
    assert backfill.configured
    first = await backfill.run_once()  # an empty table: the cursor at its start
    assert first.backfilled == [] and first.unreachable == []
    _insert(url, CSV_ROWS, naive=naive)
    report = await backfill.run_once()
    assert report.backfilled == bus.linkedids() == ["1796520475.0", "1796520493.8"]
    (queue_call,) = [e.record for e in bus.events if e.record.linkedid == "1796520493.8"]
    assert queue_call.disposition == "answered" and queue_call.source == "backfill"
    assert TableCursor.from_json(cursors.saved[CDR_TABLE]) == TableCursor(
        datetime(2026, 12, 6, 1, 28, 13, tzinfo=UTC),
        13,
        datetime(2026, 12, 6, 1, 28, 14, tzinfo=UTC),
    )
    again = await backfill.run_once()
    assert again.backfilled == [] and again.lines == 0 and len(bus.events) == 2


async def test_a_call_that_started_before_the_cursor_and_ended_after_is_found(
    table: tuple[str, bool],
) -> None:
    """A row is written at the call's end under its start: a long call that began before
    the last row read is written after it, and is still read."""
    url, naive = table
    cursors = Cursors()
    backfill, bus = _backfill(url, cursors)
    await backfill.run_once()
    _insert(url, CSV_ROWS, naive=naive)
    await backfill.run_once()
    long_call = dataclasses.replace(
        CSV_ROWS[0],
        start=datetime(2026, 12, 6, 1, 27, 0, tzinfo=UTC),
        end=datetime(2026, 12, 6, 1, 28, 20, tzinfo=UTC),
        duration=80,
        billsec=70,
        uniqueid="1796520420.0",
        linkedid="1796520420.0",
        sequence=1,
    )
    _insert(url, [long_call], naive=naive)
    report = await backfill.run_once()
    assert report.backfilled == ["1796520420.0"] and report.lines == 1
    (record,) = [e.record for e in bus.events if e.record.linkedid == "1796520420.0"]
    assert record.talk_seconds == 70 and record.wait_seconds == 10


async def test_the_first_run_starts_after_the_last_row(table: tuple[str, bool]) -> None:
    url, naive = table
    _insert(url, CSV_ROWS, naive=naive)
    cursors = Cursors()
    backfill, bus = _backfill(url, cursors)
    assert (await backfill.run_once()).backfilled == []
    assert (await backfill.run_once()).backfilled == [] and bus.events == []


async def test_a_missing_table_is_reported_as_unreachable(table: tuple[str, bool]) -> None:
    url, _ = table
    files = BookFiles(cdr_table=CdrTable.parse(url + "#no_such_table"))
    books = await read_all_books(files, BooksConfig())
    assert not books.cdr_read and books.records == []
    assert books.unreachable and "no_such_table" in books.unreachable[0]
    cursors = Cursors()
    backfill = Backfill(files, cursors, Known(), lambda events: None, BooksConfig())
    report = await backfill.run_once()
    (unreachable,) = report.unreachable
    assert ":***@" in unreachable and ":trubka@" not in unreachable  # no password shown


def test_the_setting_names_a_database_and_a_table() -> None:
    table = CdrTable.parse("postgresql://asterisk:secret@db:5432/asteriskcdrdb#public.cdr")
    assert (table.dsn, table.schema, table.table) == (
        "postgresql://asterisk:secret@db:5432/asteriskcdrdb",
        "public",
        "cdr",
    )
    assert table.qualified == '"public"."cdr"'
    assert "secret" not in str(table) and "secret" not in repr(table)
    assert CdrTable.parse("postgres://db/cdrdb").table == "cdr"
    for bad in ("postgresql://db/x#cdr;drop table x", 'postgresql://db/x#a"b', "mysql://db/x#cdr"):
        with pytest.raises(CdrTableError):
            CdrTable.parse(bad)


def test_reconcile_reads_the_table(table: tuple[str, bool], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from trubka.cli import main

    url, naive = table
    _insert(url, CSV_ROWS, naive=naive)
    env = {
        "TRUBKA_DATABASE_URL": f"sqlite:///{tmp_path}/trubka.db",
        "TRUBKA_ASTERISK_QUEUE_LOG": "",
        "TRUBKA_ASTERISK_CDR": plain_url(url) + "#cdr",
        "TRUBKA_TIMEZONE": "UTC",
        "TRUBKA_RECORDINGS_DIR": str(tmp_path / "recordings"),
    }
    period = ["--since", "2026-12-06T01:00", "--until", "2026-12-06T02:00"]
    result = CliRunner().invoke(main, ["reconcile", *period, "--fix"], env=env)
    assert result.exit_code == 0, result.output
    assert "backfilled 2 call(s)" in result.output
