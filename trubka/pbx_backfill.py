"""The backfill from Asterisk's books (queue_log, CDR) of each PBX (TRUBKA_PBXES).

The first PBX reads the books its TRUBKA_PBXES entry names (`asterisk_queue_log`,
`asterisk_cdr`, `asterisk_cdr_timezone`), else TRUBKA_ASTERISK_QUEUE_LOG, _CDR and
_CDR_TIMEZONE, as the one PBX of TRUBKA_AMI_* always did; its cursors keep their names.
Every other PBX that names books gets a backfill of its own: its records carry its name,
"already stored" means stored for that PBX (`CallStore.known`), its cursors are named
`<pbx>:queue_log` …, its `CallBackfilled` go on that PBX's bus (its call writer and
recordings ingest), and the recordings it names are looked for in its spool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from crm.book_cursors import BookCursors
from crm.call_records import CallStore
from crm.database import Database
from telephony.books.backfill import Backfill, BookFiles, Publish, spool_recordings
from telephony.books.cdr_table import CdrTable
from telephony.books.records import BooksConfig
from telephony.pbxes import PbxConfig
from telephony.reducer import CallState
from trubka.settings import Settings

CURSOR_PBX_CHARS = 54  # `<pbx>:cdr_table` fits the cursor's 64 characters


@dataclass(frozen=True, slots=True)
class PbxCalls:
    """`telephony.books.backfill.KnownCalls` of one PBX: its stored calls only."""

    calls: CallStore
    pbx: str

    async def known(self, linkedids: Sequence[str]) -> set[str]:
        return await self.calls.known(linkedids, self.pbx)


def books_backfill(
    settings: Settings,
    db: Database,
    calls: CallStore,
    publish: Publish,
    live: CallState,
    pbx: PbxConfig,
    *,
    primary: bool,
    spool: Path | None,
) -> Backfill | None:
    """PBX `pbx`'s backfill, or None when it names no book (the first PBX: nor do the
    TRUBKA_ASTERISK_* settings)."""
    queue_log, cdr, zone = pbx.asterisk_queue_log, pbx.asterisk_cdr, pbx.asterisk_cdr_timezone
    if primary and not pbx.has_books:
        queue_log, cdr = settings.asterisk_queue_log, settings.asterisk_cdr
        zone = settings.asterisk_cdr_timezone
    if queue_log is None and cdr is None:
        return None
    files = BookFiles(
        queue_log=queue_log,
        cdr_csv=cdr if isinstance(cdr, Path) else None,
        cdr_zone=ZoneInfo(zone or settings.timezone),
        cdr_table=cdr if isinstance(cdr, CdrTable) else None,
    )
    in_progress: Callable[[str], bool] = lambda linkedid: linkedid in live.calls  # noqa: E731
    return Backfill(
        files,
        BookCursors(db, "" if primary else f"{pbx.name[:CURSOR_PBX_CHARS]}:"),
        PbxCalls(calls, pbx.name),
        publish,
        BooksConfig(settings.default_region, settings.internal_number_max_digits, pbx.name),
        recording_for=spool_recordings(spool, settings.recordings_pbx_dir),
        settle=settings.backfill_settle,
        in_progress=in_progress,  # e.g. after a transfer
    )
