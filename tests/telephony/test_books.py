"""Asterisk's books: queue_log and Master.csv written by a real Asterisk 22.10.1."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from telephony.books import cdr
from telephony.books.cursor import HEAD_BYTES, FileCursor, read_new_lines
from telephony.books.queue_log import (
    QueueCallAssembler,
    QueueOutcome,
    parse_line,
    queue_calls,
)
from tests.telephony.kit_books import MASTER_CSV, QUEUE_LOG

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("TRUBKA_ASTERISK_SAMPLES", ROOT.parent / "shared/asterisk/samples"))


def _sample(name: str) -> Path:
    """A file of the lab's samples: missing is a failure in CI, a skip elsewhere."""
    sample = SAMPLES / name
    if not sample.exists():
        message = f"the Asterisk lab's samples are not beside the project ({sample})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return sample


def test_the_lab_sample_is_what_these_tests_copy() -> None:
    sample = _sample("queue_log")
    assert sample.read_text() == QUEUE_LOG


def test_a_line_is_split_into_its_fields() -> None:
    entry = parse_line("1796520476|1796520475.0|support|Agent 201|CONNECT|1|1796520475.1|1\n")
    assert entry is not None
    assert (entry.time, entry.callid, entry.queue, entry.agent, entry.event) == (
        1796520476.0,
        "1796520475.0",
        "support",
        "Agent 201",
        "CONNECT",
    )
    assert entry.data == ("1", "1796520475.1", "1")


@pytest.mark.parametrize("line", ["", "garbage", "x|1|q|a|CONNECT", "1796520476|1|q|a|"])
def test_what_is_not_a_line_is_none(line: str) -> None:
    assert parse_line(line) is None


def test_the_real_queue_log_gives_each_stay_once() -> None:
    stays = queue_calls(QUEUE_LOG.splitlines())
    assert [(s.callid, s.queue, s.outcome) for s in stays] == [
        ("1796520475.0", "support", QueueOutcome.ANSWERED),
        ("1796520480.2", "sales", QueueOutcome.ANSWERED),
        ("1796520485.4", "support", QueueOutcome.ABANDONED),
        ("1796520493.8", "support", QueueOutcome.ANSWERED),
    ]
    first, _, abandoned, transferred = stays
    assert first.caller == "+79161110001"
    assert first.agent == "Agent 201"
    assert first.member_uniqueid == "1796520475.1"
    assert (first.entered_at, first.connected_at, first.ended_at) == (
        1796520475.0,
        1796520476.0,
        1796520480.0,
    )
    assert (first.wait_seconds, first.talk_seconds) == (1.0, 4.0)
    assert abandoned.agent is None
    assert abandoned.wait_seconds == 3.0
    assert abandoned.rang == ("Agent 202",)
    assert transferred.agent == "Agent 202"
    assert transferred.transferred_to == "203@agents-pj"
    assert transferred.rang == ("Agent 203", "Agent 201")


def test_a_stay_split_across_two_reads_is_assembled() -> None:
    lines = QUEUE_LOG.splitlines()
    assembler = QueueCallAssembler()
    first = assembler.feed(filter(None, map(parse_line, lines[:3])))
    assert first == []
    rest = assembler.feed(filter(None, map(parse_line, lines[3:])))
    assert rest[0].callid == "1796520475.0"
    assert rest[0].caller == "+79161110001"


def test_a_stay_read_from_its_middle_still_counts() -> None:
    stays = queue_calls(QUEUE_LOG.splitlines()[3:4])
    assert len(stays) == 1
    stay = stays[0]
    assert (stay.entered_at, stay.connected_at, stay.talk_seconds) == (
        1796520475.0,
        1796520476.0,
        4.0,
    )


def test_the_20_call_load_has_20_stays() -> None:
    sample = _sample("queue_log.load20")
    stays = queue_calls(sample.read_text().splitlines())
    assert len(stays) == 20
    answered = [s for s in stays if s.outcome is QueueOutcome.ANSWERED]
    assert len(answered) == 13
    assert all(s.talk_seconds >= 0 and s.agent for s in answered)


def test_master_csv_rows_and_calls() -> None:
    rows, problems = cdr.parse_lines(MASTER_CSV.splitlines(), UTC)
    assert problems == ["line 4: a CDR row has [16, 17, 18, 19, 21] columns, not 4"]
    assert len(rows) == 3
    first = rows[0]
    assert first.clid == '"Иван Петров" <+79161110001>'
    assert first.start == datetime(2026, 12, 6, 1, 27, 55, tzinfo=UTC)
    assert first.start.timestamp() == 1796520475.0  # the lab's PBX runs on UTC
    assert (first.lastapp, first.disposition, first.billsec) == ("Queue", "ANSWERED", 5)
    grouped = cdr.calls(rows)
    assert [c.linkedid for c in grouped] == ["1796520475.0", "1796520493.8"]
    ring_all = grouped[1]
    assert len(ring_all.rows) == 2
    answered = ring_all.answered
    assert answered is not None and answered.dstchannel == "PJSIP/202-0000000b"
    assert ring_all.ended_at == datetime(2026, 12, 6, 1, 28, 14, tzinfo=UTC)


def test_the_lab_master_csv_parses_whole() -> None:
    sample = _sample("Master.csv")
    rows, problems = cdr.parse_lines(sample.read_text().splitlines(), UTC)
    assert problems == []
    assert len(rows) == 9


def test_a_cursor_reads_only_whole_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("1|a|q|NONE|ENTERQUEUE||1|1\n2|a|q|NONE|ABAN")
    lines, cursor, rotated = read_new_lines(log, FileCursor())
    assert lines == ["1|a|q|NONE|ENTERQUEUE||1|1"] and not rotated
    with log.open("a") as f:
        f.write("DON|1|1|1\n")
    lines, cursor, rotated = read_new_lines(log, cursor)
    assert lines == ["2|a|q|NONE|ABANDON|1|1|1"] and not rotated
    lines, cursor, rotated = read_new_lines(log, FileCursor.from_json(cursor.to_json()))
    assert lines == [] and not rotated


def test_a_rotated_file_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("x" * HEAD_BYTES + "\n" + "1|a|q|NONE|ENTERQUEUE||1|1\n")
    _, cursor, _ = read_new_lines(log, FileCursor())
    log.rename(tmp_path / "queue_log.1")
    log.write_text("5|b|q|NONE|ENTERQUEUE||2|1\n")
    lines, cursor, rotated = read_new_lines(log, cursor)
    assert rotated and lines == ["5|b|q|NONE|ENTERQUEUE||2|1"]


def test_a_truncated_file_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    log.write_text("1|a|q|NONE|ENTERQUEUE||1|1\n" * 3)
    _, cursor, _ = read_new_lines(log, FileCursor())
    log.write_text("9|c|q|NONE|ENTERQUEUE||3|1\n")  # same inode, shorter
    lines, _, rotated = read_new_lines(log, cursor)
    assert rotated and lines == ["9|c|q|NONE|ENTERQUEUE||3|1"]
