"""The edges of real operation on a real Asterisk: spying, crashes, outages, stalls.

Each of these disagreed with Asterisk's own books when the Asterisk's-books issue was
filed; they are written against the real kit so that the fix is proven where the
problem was seen.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from telephony.books import cdr
from telephony.books.queue_log import QueueOutcome, queue_calls
from tests.asterisk.kit_lab import PASSWORD, LabPbx, TrubkaNode, in_its_second, wait_for

pytestmark = pytest.mark.asterisk


def _connected(pbx: LabPbx, number: str) -> bool:
    calls = pbx.phones.status()["calls"]
    return any(c["from"] == number and c.get("connected_at") for c in calls)


def test_listening_to_a_call_leaves_no_call_record(pbx: LabPbx, trubka: TrubkaNode) -> None:
    before = {c["linkedid"] for c in trubka.calls()}
    lines = len(pbx.queue_log_lines())
    pbx.phones.call("+79161230002", name="Мария", talk=8)
    wait_for(lambda: _connected(pbx, "+79161230002"), 30, "the customer to reach an agent")
    with httpx.Client(base_url=f"http://127.0.0.1:{trubka.http_port}", timeout=10) as http:
        signed = http.post("/api/session", json={"login": "supervisor", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        live = http.get("/api/live").json()
        on_call = [a for a in live.get("agents", []) if a.get("state") == "on_call"]
        assert on_call, live
        spy = http.post(
            "/api/supervisor/spy", json={"agent": on_call[0]["interface"], "mode": "listen"}
        )
        assert spy.status_code == 200, spy.text
        pbx.wait_idle()
        stays = queue_calls(pbx.queue_log_lines()[lines:])
        assert [s.outcome for s in stays] == [QueueOutcome.ANSWERED]
        trubka.call(stays[0].callid)
        time.sleep(5)  # a record of the spy session (live or backfilled) would be there now
        new = [c for c in trubka.calls() if c["linkedid"] not in before]
        assert [c["linkedid"] for c in new] == [stays[0].callid], new

    with httpx.Client(base_url=f"http://127.0.0.1:{trubka.http_port}", timeout=10) as admin:
        signed = admin.post("/api/session", json={"login": "admin", "password": PASSWORD})
        assert signed.status_code == 200, signed.text

        def audited() -> dict[str, Any] | None:
            entries = admin.get("/api/audit", params={"action": "listen"}).json()["entries"]
            entry = next((e for e in entries if e["id"] == spy.json()["audit_id"]), None)
            session = entry and entry.get("spy_session")
            return entry if session and session["seconds"] is not None else None

        entry = wait_for(audited, 15, "the spy session's length in the audit log")
        assert entry["outcome"] == "done" and entry["linkedid"] == stays[0].callid
        assert 0 < entry["spy_session"]["seconds"] < 8


def test_calls_made_while_trubka_was_down_are_in_trubka_after_it_restarts(
    pbx: LabPbx, trubka_on_each_database: TrubkaNode
) -> None:
    trubka = trubka_on_each_database
    # Its first start noted where Asterisk's books end (what came before is not imported).
    wait_for(lambda: "is read from here on" in trubka.log_since_start(), 15, "the first read")
    trubka.kill()
    lines = len(pbx.queue_log_lines())
    pbx.set_answer_after(2.0)  # the phones let the queue ring 2 s: time for an abandon
    try:
        pbx.phones.call("+79161230003", name="Пётр", talk=2)
        pbx.phones.call("+79161230013", name="Олег", patience=1.0)  # gives up first
        pbx.wait_idle()
    finally:
        pbx.set_answer_after(1.0)
    stays = {s.caller: s for s in queue_calls(pbx.queue_log_lines()[lines:])}
    answered, abandoned = stays["+79161230003"], stays["+79161230013"]
    assert (answered.outcome, abandoned.outcome) == (
        QueueOutcome.ANSWERED,
        QueueOutcome.ABANDONED,
    )
    trubka.start()
    record = trubka.call(answered.callid, timeout=30)
    assert record["disposition"] == "answered"
    assert record["source"] == "backfill"
    assert record["agent_name"] == answered.agent
    assert abs(record["wait_seconds"] - answered.wait_seconds) <= 1.0
    assert abs(record["talk_seconds"] - answered.talk_seconds) <= 1.0
    missed = trubka.call(abandoned.callid, timeout=30)
    assert (missed["disposition"], missed["source"]) == ("abandoned", "backfill")
    assert missed["agent_interface"] is None
    processed = wait_for(
        lambda: (trubka.call(answered.callid).get("recording") or {}).get("status") == "done",
        60,
        "the backfilled call's recording to be processed",
        1.0,
    )
    assert processed
    linkedids = [c["linkedid"] for c in trubka.calls()]
    assert linkedids.count(answered.callid) == linkedids.count(abandoned.callid) == 1
    # Only these calls: the lab (shared by the tests) booked the earlier tests' calls too.
    since = min(answered.entered_at, abandoned.entered_at) - 1
    out = trubka.cli_result("reconcile", "--since", _iso(since))
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_call_that_ended_a_moment_before_a_crash_is_not_lost(
    pbx: LabPbx, trubka: TrubkaNode
) -> None:
    wait_for(lambda: "is read from here on" in trubka.log_since_start(), 15, "the first read")
    lines = len(pbx.queue_log_lines())
    pbx.phones.call("+79161230004", name="Анна", talk=2)
    wait_for(
        lambda: any("COMPLETE" in line for line in pbx.queue_log_lines()[lines:]),
        40,
        "the call to end",
        0.05,
    )
    trubka.kill()  # kill -9 right as the call ended: the writer had no time
    stays = queue_calls(pbx.queue_log_lines()[lines:])
    trubka.start()
    record = trubka.call(stays[0].callid, timeout=30)
    assert record["disposition"] == "answered"
    assert [c["linkedid"] for c in trubka.calls()].count(stays[0].callid) == 1


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def test_a_stalled_trubka_times_the_call_by_asterisk_s_clock(
    pbx: LabPbx, trubka: TrubkaNode
) -> None:
    lines = len(pbx.queue_log_lines())
    trubka.signal(signal.SIGSTOP)  # frozen: AMI events wait in the socket
    try:
        pbx.phones.call("+79161230005", name="Ольга Смирнова", talk=4)
        time.sleep(8)
    finally:
        trubka.signal(signal.SIGCONT)
    pbx.wait_idle()
    stays = queue_calls(pbx.queue_log_lines()[lines:])
    assert [s.outcome for s in stays] == [QueueOutcome.ANSWERED]
    record = trubka.call(stays[0].callid, timeout=30)
    assert record["source"] == "ami"
    assert record["caller_name"] == "Ольга Смирнова"
    rows, _ = cdr.parse_lines(pbx.master_csv.read_text().splitlines(), UTC)
    book = next(c for c in cdr.calls(rows) if c.linkedid == stays[0].callid)
    started = datetime.fromisoformat(record["started_at"]).timestamp()
    answered = datetime.fromisoformat(record["answered_at"]).timestamp()
    # The call started when Asterisk says (not when Trubka woke up); the dialplan then
    # waited for the frozen FastAGI server before it gave the call to the queue.
    assert in_its_second(started, book.started_at.timestamp())
    assert stays[0].connected_at is not None
    assert in_its_second(answered, stays[0].connected_at)
    assert abs(record["talk_seconds"] - stays[0].talk_seconds) <= 1.0
    assert abs(record["queue_hold_seconds"] - stays[0].wait_seconds) <= 1.0
