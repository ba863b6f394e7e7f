"""Call records built from the books a real Asterisk 22.10.1 wrote (the lab's samples)."""

from __future__ import annotations

from datetime import UTC

from telephony.books import cdr
from telephony.books.queue_log import queue_calls
from telephony.books.records import BooksConfig, caller_name, records_from_books
from telephony.records import CallRecord, Direction, Disposition
from tests.telephony.kit_books import MASTER_CSV, QUEUE_LOG

# The rest of the lab's Master.csv: a routed call to 203, a click-to-call from 201, and a
# supervisor listening.
MORE_CDR = (
    '"","84950000004","74951234567","from-trunk-trubka","""Пётр Кузнецов"" <84950000004>",'
    '"PJSIP/trunk-00000006","PJSIP/203-00000007","Dial","PJSIP/203,15",'
    '"2026-12-06 01:28:09","2026-12-06 01:28:09","2026-12-06 01:28:13",4,4,"ANSWERED",'
    '"DOCUMENTATION","1796520489.6","","","1796520489.6",6\n'
    '"","201","79265550002","from-internal","""Agent 201"" <201>","PJSIP/201-0000000d",'
    '"PJSIP/trunk-0000000e","Dial","PJSIP/79265550002@trunk,60","2026-12-06 01:28:17",'
    '"2026-12-06 01:28:18","2026-12-06 01:28:22",5,4,"ANSWERED","DOCUMENTATION",'
    '"1796520497.13","","","1796520497.13",16\n'
    # A supervisor's listen as the real Asterisk of the lab kit wrote it into Master.csv.
    '"","+79161230002","s","agents-pj","""Listen: Agent 202"" <+79161230002>",'
    '"PJSIP/209-00000004","","ChanSpy","PJSIP/202-00000003,bqESu","2026-12-06 04:13:06",'
    '"2026-12-06 04:13:07","2026-12-06 04:13:14",7,6,"ANSWERED","DOCUMENTATION",'
    '"trubka-spy-1796530387-ea829468f323","","","trubka-spy-1796530387-ea829468f323",4\n'
)


def _records() -> dict[str, CallRecord]:
    rows, problems = cdr.parse_lines((MASTER_CSV + MORE_CDR).splitlines(), UTC)
    assert len(problems) == 1  # the garbage line of MASTER_CSV
    stays = queue_calls(QUEUE_LOG.splitlines())
    records = records_from_books(
        stays, cdr.calls(rows), BooksConfig(), recording_for=lambda uid: f"{uid}.wav"
    )
    return {r.linkedid: r for r in records}


def test_a_queue_call_takes_its_times_from_queue_log() -> None:
    record = _records()["1796520475.0"]
    assert record.direction is Direction.INBOUND
    data = record.to_json()
    assert data["caller_number"] == "+79161110001"
    assert data["caller_name"] == "Иван Петров"
    assert data["called_number"] == "+74951234567"
    assert data["queue"] == "support"
    assert data["agent_interface"] == "PJSIP/201"
    assert data["agent_name"] == "Agent 201"
    assert data["disposition"] == "answered"
    assert data["started_at"] == "2026-12-06T01:27:55.000+00:00"
    assert data["answered_at"] == "2026-12-06T01:27:56.000+00:00"
    assert (data["wait_seconds"], data["talk_seconds"]) == (1.0, 4.0)
    assert data["recording_file"] == "1796520475.0.wav"
    assert (data["queue_hold_seconds"], data["queue_talk_seconds"]) == (1, 4)


def test_queue_calls_without_a_cdr_line_are_kept() -> None:
    records = _records()
    abandoned = records["1796520485.4"].to_json()
    assert abandoned["disposition"] == Disposition.ABANDONED.value
    assert abandoned["agent_interface"] is None
    assert abandoned["caller_number"] == "+74997770003"  # from ENTERQUEUE
    assert abandoned["wait_seconds"] == 3.0


def test_a_ring_all_call_names_the_agent_who_answered() -> None:
    data = _records()["1796520493.8"].to_json()
    assert data["agent_interface"] == "PJSIP/202"
    assert data["agents"] == ["PJSIP/202"]


def test_a_routed_call_outside_a_queue() -> None:
    data = _records()["1796520489.6"].to_json()
    assert data["queue"] is None
    assert data["disposition"] == "answered"
    assert data["agent_interface"] == "PJSIP/203"
    assert data["talk_seconds"] == 4.0


def test_an_outbound_call_keeps_the_agent_and_the_customer_apart() -> None:
    data = _records()["1796520497.13"].to_json()
    assert data["direction"] == "outbound"
    assert data["caller_number"] == "201"
    assert data["called_number"] == "+79265550002"
    assert data["agent_interface"] == "PJSIP/201"
    assert data["answered_at"] == "2026-12-06T01:28:18.000+00:00"
    assert data["talk_seconds"] == 4.0


def test_a_spy_session_is_not_a_call() -> None:
    assert not [linkedid for linkedid in _records() if linkedid.startswith("trubka-spy-")]
    assert len(_records()) == 6


def test_caller_names() -> None:
    assert caller_name('"Иван Петров" <+79161110001>', "+79161110001") == "Иван Петров"
    assert caller_name('"+79161110001" <+79161110001>', "+79161110001") is None
    assert caller_name("<201>", "201") is None
    assert caller_name('"anonymous" <>', "") is None
