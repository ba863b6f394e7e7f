"""`trubka reconcile`: stored calls against Asterisk's own books, per call."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from trubka.cli.common import parse_since, settings_or_exit
from trubka.settings import Settings

# A stored call's start and its CDR's start differ by less than a second; a margin keeps
# calls at the period's edges on both sides of the comparison.
EDGE = timedelta(minutes=5)


@click.command()
@click.option("--since", required=True, help="Start of the period (ISO date/time; UTC if no zone).")
@click.option("--until", default=None, help="End of the period (default: now).")
@click.option("--fix", is_flag=True, help="Backfill the calls Trubka is missing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
def reconcile(since: str, until: str | None, fix: bool, as_json: bool) -> None:
    """Compare stored calls with Asterisk's queue_log and CDR for a period.

    Prints every difference per call (missing, extra, disposition, agent, wait or talk
    beyond 1 s); exits 1 on any difference. With --fix, calls missing from Trubka are
    backfilled (stored, linked, given their recording and missed-call task, as a live
    call), and the exit code tells what is left.
    """
    settings = settings_or_exit()
    if settings.asterisk_queue_log is None and settings.asterisk_cdr is None:
        raise click.ClickException(
            "no book of Asterisk's to read: set TRUBKA_ASTERISK_QUEUE_LOG "
            "(e.g. /var/log/asterisk/queue_log) and/or TRUBKA_ASTERISK_CDR "
            "(e.g. /var/log/asterisk/cdr-csv/Master.csv, or postgresql://…#cdr)"
        )
    start = parse_since(since)
    end = parse_since(until) if until else datetime.now(start.tzinfo)
    if end <= start:
        raise click.BadParameter("must be after --since", param_hint="--until")
    summary = asyncio.run(_reconcile(settings, start, end, fix))
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        for line in summary["lines"]:
            click.echo(line)
    sys.exit(1 if summary["differences"] else 0)


async def _reconcile(
    settings: Settings, start: datetime, end: datetime, fix: bool
) -> dict[str, Any]:
    from crm.book_cursors import LAST_RECONCILE, BookCursors
    from crm.database import Database
    from telephony.books.backfill import BookFiles, read_all_books, spool_recordings
    from telephony.books.cdr_table import CdrTable
    from telephony.books.reconcile import DifferenceKind, differences, in_period
    from telephony.books.records import BooksConfig

    cdr = settings.asterisk_cdr
    files = BookFiles(
        settings.asterisk_queue_log,
        cdr if isinstance(cdr, Path) else None,
        ZoneInfo(settings.asterisk_cdr_timezone or settings.timezone),
        cdr if isinstance(cdr, CdrTable) else None,
    )
    config = BooksConfig(settings.default_region, settings.internal_number_max_digits)
    recording_for = spool_recordings(settings.recordings_spool, settings.recordings_pbx_dir)
    books = await read_all_books(files, config, recording_for, since=start)
    if books.unreachable:
        raise click.ClickException("cannot read " + "; ".join(books.unreachable))
    theirs = in_period(books.records, start, end)
    db = Database(settings.database_url)
    try:
        await db.upgrade()
        ours = await _stored(db, start, end, {r.linkedid for r in theirs})
        found = differences(ours, theirs, cdr_read=books.cdr_read)
        fixed: list[str] = []
        if fix:
            missing = {d.linkedid for d in found if d.kind is DifferenceKind.MISSING}
            fixed = await _backfill(settings, [r for r in theirs if r.linkedid in missing])
            ours = await _stored(db, start, end, {r.linkedid for r in theirs})
            found = differences(ours, theirs, cdr_read=books.cdr_read)
        counts: dict[str, int] = {}
        for difference in found:
            counts[difference.kind.value] = counts.get(difference.kind.value, 0) + 1
        summary: dict[str, Any] = {
            "at": time.time(),
            "since": start.isoformat(),
            "until": end.isoformat(),
            "calls_in_books": len(theirs),
            "calls_in_trubka": len(ours),
            "fixed": fixed,
            "counts": counts,
            "differences": [d.to_json() for d in found],
            "problems": books.problems[:20],
        }
        await BookCursors(db).save(
            LAST_RECONCILE,
            {k: v for k, v in summary.items() if k != "differences"}
            | {"differences": summary["differences"][:50]},
        )
    finally:
        await db.dispose()
    lines = [str(d) for d in found]
    if fixed:
        lines.append(f"backfilled {len(fixed)} call(s) from Asterisk's books")
    lines.append(
        f"{len(theirs)} call(s) in Asterisk's books, {len(ours)} in Trubka: "
        + (", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no difference")
    )
    summary["lines"] = lines
    return summary


async def _stored(db: Any, start: datetime, end: datetime, books: set[str]) -> list[dict[str, Any]]:
    """Stored calls of the period (and those of the books' calls just outside it)."""
    from crm.call_records import CallStore

    rows = await CallStore(db).list(since=start - EDGE)
    return [
        row.to_json()
        for row in rows
        if row.linkedid in books or start <= row.started_at < end
        if row.started_at < end + EDGE
    ]


async def _backfill(settings: Settings, records: list[Any]) -> list[str]:
    """Store the calls as the running service would: the same consumers, once each."""
    from telephony.domain import CallBackfilled
    from trubka.wiring import Services

    if not records:
        return []
    quiet = settings.model_copy(update={"ami_enabled": False, "agi_enabled": False})
    services = Services.create(quiet)
    await services.start()
    try:
        services.bus.publish([CallBackfilled(record) for record in records])
        async with asyncio.timeout(60):
            await services.drain_calls()
            if services.recordings.subscription is not None:
                await services.recordings.ingest.drain(services.recordings.subscription)
    finally:
        await services.stop()
    return [record.linkedid for record in records]
