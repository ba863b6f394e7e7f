"""Backfill from the books: calls missed while Trubka was away, each once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from telephony.books.backfill import (
    CDR_CSV,
    QUEUE_LOG,
    Backfill,
    BookFiles,
    spool_recordings,
)
from telephony.books.records import BooksConfig
from telephony.domain import CallBackfilled, DomainEvent
from tests.telephony.test_books import MASTER_CSV
from tests.telephony.test_books import QUEUE_LOG as QUEUE_LOG_TEXT

LAST_END = 1796520494.0  # the last line of the samples


class Cursors:
    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    async def load(self, name: str) -> dict[str, Any] | None:
        return self.saved.get(name)

    async def save(self, name: str, value: dict[str, Any]) -> None:
        self.saved[name] = value


class Known:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def known(self, linkedids: Sequence[str]) -> set[str]:
        return self.ids & set(linkedids)


class Bus:
    def __init__(self, known: Known) -> None:
        self.events: list[DomainEvent] = []
        self.known = known

    def publish(self, events: Iterable[DomainEvent]) -> None:
        for event in events:
            self.events.append(event)
            assert isinstance(event, CallBackfilled)
            self.known.ids.add(event.record.linkedid)  # as the call writer would

    def linkedids(self) -> list[str]:
        return [e.record.linkedid for e in self.events if isinstance(e, CallBackfilled)]


def _setup(tmp_path: Path, now: float) -> tuple[Backfill, Bus, Path, Path, Cursors]:
    queue_log = tmp_path / "queue_log"
    master = tmp_path / "Master.csv"
    queue_log.write_text("")
    master.write_text("")
    known = Known()
    bus = Bus(known)
    cursors = Cursors()
    backfill = Backfill(
        BookFiles(queue_log, master),
        cursors,
        known,
        bus.publish,
        BooksConfig(),
        settle=10.0,
        clock=lambda: now,
    )
    return backfill, bus, queue_log, master, cursors


async def test_the_first_run_starts_at_the_end(tmp_path: Path) -> None:
    backfill, bus, queue_log, master, cursors = _setup(tmp_path, LAST_END + 60)
    queue_log.write_text(QUEUE_LOG_TEXT)
    master.write_text(MASTER_CSV)
    report = await backfill.run_once()
    assert report.backfilled == [] and bus.events == []
    assert set(cursors.saved) == {QUEUE_LOG, CDR_CSV}
    assert cursors.saved[QUEUE_LOG]["offset"] == len(QUEUE_LOG_TEXT.encode())


async def test_calls_booked_after_the_cursor_are_backfilled_once(tmp_path: Path) -> None:
    backfill, bus, queue_log, master, _ = _setup(tmp_path, LAST_END + 60)
    await backfill.run_once()  # the cursors, at the (empty) ends
    queue_log.write_text(QUEUE_LOG_TEXT)
    master.write_text(MASTER_CSV)
    report = await backfill.run_once()
    assert bus.linkedids() == ["1796520475.0", "1796520480.2", "1796520485.4", "1796520493.8"]
    assert report.backfilled == bus.linkedids()
    garbage = len(MASTER_CSV.encode()) - len("not,a,cdr,row\n")
    assert report.problems == [f"byte {garbage}: a CDR row has [16, 17, 18, 19, 21] columns, not 4"]
    again = await backfill.run_once()
    assert again.backfilled == [] and len(bus.events) == 4


async def test_calls_trubka_has_are_not_backfilled(tmp_path: Path) -> None:
    backfill, bus, queue_log, _, _ = _setup(tmp_path, LAST_END + 60)
    await backfill.run_once()
    bus.known.ids.add("1796520480.2")
    queue_log.write_text(QUEUE_LOG_TEXT)
    await backfill.run_once()
    assert "1796520480.2" not in bus.linkedids()
    assert len(bus.linkedids()) == 3


async def test_a_call_not_finished_is_read_again_later(tmp_path: Path) -> None:
    lines = QUEUE_LOG_TEXT.splitlines(keepends=True)
    backfill, bus, queue_log, _, cursors = _setup(tmp_path, LAST_END + 60)
    await backfill.run_once()
    queue_log.write_text("".join(lines[:3]))  # the first call: entered, connected
    report = await backfill.run_once()
    assert report.backfilled == [] and report.pending == 1
    assert cursors.saved[QUEUE_LOG]["offset"] == len(lines[0].encode())  # held at ENTERQUEUE
    queue_log.write_text("".join(lines))
    await backfill.run_once()
    first = next(e for e in bus.events if isinstance(e, CallBackfilled))
    assert first.record.linkedid == "1796520475.0"
    assert first.record.caller_number == "+79161110001"  # from its ENTERQUEUE, read again


async def test_a_call_that_just_ended_waits_for_the_live_writer(tmp_path: Path) -> None:
    backfill, _, queue_log, _, _ = _setup(tmp_path, LAST_END + 5)
    await backfill.run_once()
    queue_log.write_text(QUEUE_LOG_TEXT)
    report = await backfill.run_once()
    assert "1796520493.8" not in report.backfilled  # ended 5 s ago: not settled
    assert "1796520475.0" in report.backfilled


async def test_an_unreadable_book_is_reported(tmp_path: Path) -> None:
    backfill, _, queue_log, _, _ = _setup(tmp_path, LAST_END + 60)
    await backfill.run_once()
    queue_log.unlink()
    report = await backfill.run_once()
    assert report.unreachable and "queue_log" in report.unreachable[0]


def test_recordings_are_found_in_the_spool_by_unique_id(tmp_path: Path) -> None:
    (tmp_path / "1796520475.0.wav").write_bytes(b"RIFF")
    find = spool_recordings(tmp_path, Path("/var/spool/asterisk/monitor"))
    assert find("1796520475.0") == "/var/spool/asterisk/monitor/1796520475.0.wav"
    assert find("1796520480.2") is None
    assert find("../etc/passwd") is None


async def test_a_book_asterisk_has_not_written_yet_is_read_whole_once_it_is(
    tmp_path: Path,
) -> None:
    backfill, bus, _, master, cursors = _setup(tmp_path, LAST_END + 60)
    master.unlink()  # Asterisk writes Master.csv at its first call
    first = await backfill.run_once()
    assert first.unreachable and cursors.saved[CDR_CSV]["offset"] == 0
    master.write_text(MASTER_CSV)
    await backfill.run_once()
    assert "1796520475.0" in bus.linkedids()  # its rows were read from the file's start


def test_a_queue_call_without_a_cdr_row_finds_its_recording() -> None:
    from telephony.books.queue_log import queue_calls
    from telephony.books.records import records_from_books

    (record, *_) = records_from_books(
        queue_calls(QUEUE_LOG_TEXT.splitlines()), [], BooksConfig(), lambda uid: f"{uid}.wav"
    )
    assert record.recording_file == f"{record.linkedid}.wav"


async def test_two_runs_before_the_writer_stored_publish_a_call_once(tmp_path: Path) -> None:
    backfill, bus, queue_log, _, _ = _setup(tmp_path, LAST_END + 60)
    await backfill.run_once()
    queue_log.write_text(QUEUE_LOG_TEXT)
    bus.known = Known()  # a writer that has not stored anything yet
    await backfill.run_once()
    await backfill.run_once()  # woken again at once (a reconnect)
    assert sorted(bus.linkedids()) == sorted(set(bus.linkedids()))
    assert len(bus.linkedids()) == 4


async def test_a_call_the_live_link_still_follows_is_not_backfilled(tmp_path: Path) -> None:
    """After a transfer queue_log closes the queue stay (BLINDTRANSFER) while the caller
    talks on with the colleague: the live record comes later, and must be the one kept."""
    backfill, bus, queue_log, _, cursors = _setup(tmp_path, LAST_END + 60)
    live = {"1796520493.8"}  # the transferred call of the samples, still going on
    backfill.in_progress = lambda linkedid: linkedid in live
    await backfill.run_once()
    queue_log.write_text(QUEUE_LOG_TEXT)
    report = await backfill.run_once()
    assert "1796520493.8" not in report.backfilled and report.pending == 1
    assert "1796520493.8" not in bus.linkedids()
    assert cursors.saved[QUEUE_LOG]["offset"] < len(QUEUE_LOG_TEXT.encode())  # held there
    live.clear()  # it ended, and the live writer missed it: the books bring it in
    again = await backfill.run_once()
    assert again.backfilled == ["1796520493.8"]
