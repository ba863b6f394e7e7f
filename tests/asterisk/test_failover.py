"""AMI fail-over between two Trubka nodes on one PostgreSQL database, on the real Asterisk.

Two `trubka serve` processes (every role) share a fresh PostgreSQL database, the kit's
AMI and the kit's books (queue_log, Master.csv). Node A holds the AMI lease with the
default lease (TTL 3 s, claimed every 1 s); node B stands by with a TTL of 8 s, so that
once B holds the lease, freezing B leaves a gap long enough for a whole call.

1. A customer's call is answered by a phone; while it is up, A gets `kill -9`: B
   consumes (logged in, live picture resynchronised) within 5 s, and the call ends
   after the switch.
2. A starts again as the standby; B is frozen (SIGSTOP): a call starts and ends while
   nobody consumes; A takes the expired lease and stores the call from Asterisk's
   books; B thaws, finds the lease gone and stands by.

Every call has exactly one record (by linkedid) with the disposition, agent and times
of Asterisk's own books, and neither node logs an error for a race with the other.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from telephony.books import cdr
from telephony.books.queue_log import QueueCall, QueueOutcome, queue_calls
from tests.asterisk.kit_lab import LabPbx, TrubkaNode, in_its_second, wait_for
from tests.kit_db import fresh_pg_database, in_thread, plain_url
from tests.kit_server import free_port

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]

TAKEOVER_BUDGET = 5.0  # the promise for a killed holder: the standby consumes in 5 s
CONSUMING = "AMI: connected"  # logged once logged in and resynchronised from Asterisk
# What a node must never log: an error, a crash, or the duplicates of the report.
TROUBLE = re.compile(r"(^|\s)(ERROR|CRITICAL)[:\s]|Traceback|UniqueViolation|collided")


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database("trubka_fo") as url:
        yield url


def _node(tmp_path: Path, pbx: LabPbx, url: str, name: str, **env: str) -> TrubkaNode:
    node = TrubkaNode(tmp_path / name, pbx, database_url=url)
    node.folder.mkdir()
    node.extra_env = {
        "TRUBKA_ROLES": "ami,agi,web,workers",
        "TRUBKA_NODE_NAME": name,
        **env,
    }
    return node


def _ami_state(node: TrubkaNode) -> str:
    response = httpx.get(f"http://127.0.0.1:{node.http_port}/readyz", timeout=5)
    return str(response.json()["checks"]["ami"])


def _connected(pbx: LabPbx, number: str) -> bool:
    return any(c["from"] == number and c.get("connected_at") for c in pbx.phones.status()["calls"])


def _ended(pbx: LabPbx, lines: int) -> bool:
    return any("|COMPLETE" in line for line in pbx.queue_log_lines()[lines:])


def _rows(url: str) -> list[dict[str, Any]]:
    """The `calls` table as it is (a duplicate would be a second row of one linkedid)."""
    import asyncpg  # type: ignore[import-untyped]

    async def query() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(plain_url(url))
        try:
            rows = await conn.fetch(
                "SELECT linkedid, disposition, queue, agent_name, started_at, ended_at,"
                " wait_seconds, talk_seconds, source, timeline FROM calls"
            )
        finally:
            await conn.close()
        return [dict(row) for row in rows]

    found: list[dict[str, Any]] = in_thread(lambda: asyncio.run(query()))
    return found


def _stored(url: str, linkedids: set[str]) -> list[dict[str, Any]] | None:
    rows = _rows(url)
    return rows if linkedids <= {row["linkedid"] for row in rows} else None


def _as_asterisk_booked(
    record: dict[str, Any], stay: QueueCall, book: cdr.CdrCall, *, seen_answered: bool = True
) -> None:
    """The record against queue_log and Master.csv. `seen_answered=False`: the node that
    stored it first saw the call already talking (its resync after the take-over), so
    the call's start is known from CoreShowChannels' whole seconds of Duration, and its
    answer moment from AgentComplete's talk time when that comes before the last Hangup
    (Asterisk sends them in either order), else the resync's moment."""
    assert stay.outcome is QueueOutcome.ANSWERED
    assert record["disposition"] == "answered"
    assert record["queue"] == stay.queue, record
    assert record["agent_name"] == stay.agent
    if seen_answered:
        assert abs(record["talk_seconds"] - stay.talk_seconds) <= 1.0
        assert abs(record["wait_seconds"] - stay.wait_seconds) <= 1.0
    else:
        assert 0 < record["talk_seconds"] <= stay.talk_seconds + 1.0, record
    answered = book.answered
    assert answered is not None and answered.disposition == "ANSWERED"
    started = _ts(record["started_at"])
    ended = _ts(record["ended_at"])
    assert abs(started - book.started_at.timestamp()) <= (1.0 if seen_answered else 2.0)
    assert in_its_second(ended, book.ended_at.timestamp())


def _ts(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def test_the_standby_takes_over_from_a_killed_and_a_frozen_holder_one_record_per_call(
    pbx: LabPbx, pg_url: str, tmp_path: Path
) -> None:
    pbx.wait_idle()
    a = _node(tmp_path, pbx, pg_url, "node-a")
    b = _node(
        tmp_path, pbx, pg_url, "node-b",
        TRUBKA_AGI_PORT=str(free_port()),  # Asterisk asks node A's FastAGI, as the kit's dialplan
        TRUBKA_AMI_LEASE_TTL="8",  # once B holds, freezing it leaves a gap for a whole call
    )  # fmt: skip
    lines = len(pbx.queue_log_lines())
    try:
        a.start()  # the first node takes the lease and consumes
        wait_for(lambda: "is read from here on" in a.log_since_start(), 15, "A's first read")
        b.start(consuming=False)
        wait_for(lambda: _ami_state(b) == "standby", 10, "B to stand by")
        assert CONSUMING not in b.log_since_start()

        # 1. kill -9 of the holder mid-call.
        pbx.phones.call("+79161230201", name="Фёдор Крылов", talk=8)
        wait_for(lambda: _connected(pbx, "+79161230201"), 30, "the first call to be answered")
        killed = time.monotonic()
        a.kill()
        wait_for(lambda: CONSUMING in b.log_since_start(), 15, "B to consume", every=0.02)
        takeover = time.monotonic() - killed
        assert not _ended(pbx, lines), "the call ended before the switch: make it longer"
        print(f"kill -9: B consumed {takeover:.2f} s after the holder died")
        assert takeover <= TAKEOVER_BUDGET, f"B took {takeover:.2f} s"
        a.start(consuming=False)  # back, as the standby now, while the call goes on
        wait_for(lambda: _ended(pbx, lines), 20, "the first call to end")
        pbx.wait_idle()
        wait_for(lambda: _ami_state(a) == "standby", 10, "A to stand by")

        # 2. The holder freezes; a whole call happens while nobody consumes.
        second = len(pbx.queue_log_lines())
        frozen = time.monotonic()
        b.signal(signal.SIGSTOP)
        try:
            pbx.phones.call("+79161230202", name="Вера Павлова", talk=1)
            wait_for(lambda: _ended(pbx, second), 20, "the second call to end", every=0.05)
            in_gap = CONSUMING not in a.log_since_start()
            wait_for(lambda: CONSUMING in a.log_since_start(), 15, "A to consume", every=0.02)
            gap = time.monotonic() - frozen
        finally:
            b.signal(signal.SIGCONT)
        assert in_gap, "A took over before the second call ended: the gap was too short"
        print(f"SIGSTOP (holder's TTL 8 s): A consumed {gap:.2f} s after the holder froze")
        wait_for(lambda: "lost by node node-b" in b.log_since_start(), 15, "B to stand by")
        wait_for(lambda: _ami_state(b) == "standby", 10, "B to report standby")

        # Exactly one record per call, as Asterisk's books tell it.
        stays = {s.caller: s for s in queue_calls(pbx.queue_log_lines()[lines:])}
        across, gapped = stays["+79161230201"], stays["+79161230202"]
        rows = wait_for(
            lambda: _stored(pg_url, {across.callid, gapped.callid}), 30, "both calls stored"
        )
        records = {row["linkedid"]: row for row in rows}
        first_record, gap_record = records[across.callid], records[gapped.callid]
        assert first_record["source"] == "ami"  # B saw it live after the resync
        assert gap_record["source"] == "backfill"  # nobody saw it: from the books
        cdr_rows, problems = cdr.parse_lines(pbx.master_csv.read_text().splitlines(), UTC)
        assert not problems, problems
        books = {c.linkedid: c for c in cdr.calls(cdr_rows)}
        _as_asterisk_booked(first_record, across, books[across.callid], seen_answered=False)
        _as_asterisk_booked(gap_record, gapped, books[gapped.callid])
        linkedids = [row["linkedid"] for row in _rows(pg_url)]
        assert sorted(linkedids) == sorted([across.callid, gapped.callid]), linkedids
    finally:
        if b.process is not None:
            b.signal(signal.SIGCONT)
        b.stop()
        a.stop()
    for node in (a, b):
        trouble = [line for line in node.log_path.read_text().splitlines() if TROUBLE.search(line)]
        assert not trouble, f"{node.folder.name} logged:\n" + "\n".join(trouble[:20])
