"""`trubka replay` on the real Asterisk traces: every expected field, and the timestamps,
wait and talk times the traces imply (derived here independently of the codec, from the
recorder's socket-read index)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from telephony.records import CallRecord
from telephony.replay import load_index, replay_file
from tests.kit_traces import TRACES

EXPECTED = sorted((TRACES / "expected").glob("*.calls.jsonl"))


@dataclass
class RawFrame:
    end: int  # offset just past the frame's last byte
    text: str

    def header(self, name: str) -> str | None:
        match = re.search(rf"^{name}: (.*)$", self.text, re.MULTILINE)
        return match.group(1) if match else None


def raw_frames(data: bytes) -> list[RawFrame]:
    frames, start = [], data.index(b"\r\n") + 2
    while (end := data.find(b"\r\n\r\n", start)) >= 0:
        frames.append(
            RawFrame(end + 4, data[start:end].decode("utf-8", "replace").replace("\r", ""))
        )
        start = end + 4
    return frames


def clock(path: Path):  # type: ignore[no-untyped-def]
    index = load_index(path)
    assert index, f"{path.name} has no .idx.jsonl"

    def at(end: int) -> float:
        return next(t for t, off, length in index if off < end <= off + length)

    return at


def implied_times(path: Path, linkedid: str, outbound: bool) -> dict[str, float | None]:
    frames = [f for f in raw_frames(path.read_bytes()) if f.header("Linkedid") == linkedid]
    at = clock(path)
    start = next(
        f
        for f in frames
        if f.text.startswith("Event: Newchannel\n") and f.header("Uniqueid") == linkedid
    )
    answer = next(
        (
            f
            for f in frames
            if f.text.startswith("Event: DialEnd\n")
            and f.header("DialStatus") == "ANSWER"
            and f.header("Channel") is not None
        ),
        None,
    )
    hangups = [f for f in frames if f.text.startswith("Event: Hangup\n")]
    customer_mark = "@pstn-out" if outbound else "@from-trunk"
    answered_at = at(answer.end) if answer else None
    talk_end = None
    if answer is not None:
        # Talk ends when either side hangs up: the customer's channels or the answering leg.
        agent_leg = (answer.header("DestChannel") or "")[:-2]
        talk_end = next(
            at(f.end)
            for f in hangups
            if f.end > answer.end
            and (
                customer_mark in (f.header("Channel") or "")
                or (f.header("Channel") or "")[:-2] == agent_leg
            )
        )
    return {
        "started_at": at(start.end),
        "answered_at": answered_at,
        "ended_at": at(hangups[-1].end),
        "talk_end": talk_end,
    }


def records(path: Path) -> dict[str, CallRecord]:
    return {r.linkedid: r for r in replay_file(path)}


@pytest.mark.parametrize("expected_file", EXPECTED, ids=lambda p: p.name.split(".")[0])
def test_replay_matches_expected_and_implied_times(expected_file: Path) -> None:
    trace = TRACES / expected_file.name.replace(".calls.jsonl", ".ami")
    got = records(trace)
    expected = [
        json.loads(line) for line in expected_file.read_text(encoding="utf-8").splitlines() if line
    ]
    assert expected
    for exp in expected:
        rec = got[exp["linkedid"]]
        assert rec.direction.value == exp["direction"]
        assert rec.disposition.value == exp["disposition"]
        assert Path(rec.recording_file or "").name == exp["recording_file"]
        if exp["direction"] == "inbound":
            assert rec.caller_number == exp["caller_number"]
            assert rec.caller_name == exp["caller_name"]
            assert rec.queue == exp["queue"]
            assert (rec.agent_interface or "").removesuffix("/n") == (
                exp["agent_interface"] or ""
            ).removesuffix("/n")
        else:
            assert rec.called_number == exp["called_number"]
        times = implied_times(trace, rec.linkedid, outbound=exp["direction"] == "outbound")
        assert rec.started_at == pytest.approx(times["started_at"], abs=1e-6)
        assert rec.ended_at == pytest.approx(times["ended_at"], abs=1e-6)
        if exp["disposition"] == "answered":
            assert rec.answered_at == pytest.approx(times["answered_at"], abs=1e-6)
            assert rec.wait_seconds == pytest.approx(
                times["answered_at"] - times["started_at"], abs=1e-6
            )
            assert rec.talk_seconds == pytest.approx(
                times["talk_end"] - times["answered_at"], abs=1e-6
            )
        else:
            assert rec.answered_at is None
            assert rec.talk_seconds == 0
            assert rec.wait_seconds == pytest.approx(
                times["ended_at"] - times["started_at"], abs=1e-6
            )
    # Nothing but the expected customer calls (failed Originates aside).
    extra = [r for r in got.values() if r.linkedid not in {e["linkedid"] for e in expected}]
    assert all(r.disposition.value == "failed" for r in extra)


def test_queue_figures_are_asterisks_own() -> None:
    rec = records(TRACES / "01-queue-answered.ami")["1795717766.0"]
    assert (rec.queue_hold_seconds, rec.queue_talk_seconds) == (
        3,
        12,
    )  # AgentConnect / AgentComplete
    assert rec.agent_name == "Agent 101"
    assert rec.routed_by == "queue"
    assert [s.kind for s in rec.timeline] == [
        "started",
        "recording-started",
        "queued",
        "ringing",
        "answered",
        "completed",
        "ended",
    ]
    abandoned = records(TRACES / "02-queue-abandoned-ringing.ami")["1795717785.4"]
    assert abandoned.queue_hold_seconds == 22  # QueueCallerAbandon HoldTime
    kinds = [s.kind for s in abandoned.timeline]
    assert kinds.count("ringing") == 3 and kinds.count("no-answer") == 2


def test_routed_call_records_the_agi_route() -> None:
    rec = records(TRACES / "03-fastagi-route-to-102.ami")["1795717820.14"]
    assert rec.routed_by == "agi"  # ROUTE_AGENT was set; no ROUTE_BY in this lab dialplan
    assert rec.agent_name == "Agent 102"  # from the queue member list seen earlier in the trace
    assert rec.queue is None


def test_click_to_call_is_outbound_from_the_agent() -> None:
    rec = records(TRACES / "06-ami-actions.ami")["c2c-0001-agent"]
    assert rec.direction.value == "outbound"
    assert rec.caller_number == "101"
    assert rec.called_number == "+79165550001"
    assert rec.agent_name == "Agent 101"


def test_without_the_index_times_come_from_the_stream(tmp_path: Path) -> None:
    copy = tmp_path / "01.ami"
    copy.write_bytes((TRACES / "01-queue-answered.ami").read_bytes())
    (rec,) = replay_file(copy)
    exact = records(TRACES / "01-queue-answered.ami")["1795717766.0"]
    assert rec.disposition == exact.disposition
    assert abs(rec.started_at - exact.started_at) < 1.0
    assert abs(rec.ended_at - exact.ended_at) < 1.0


def test_trubka_replay_command_prints_json_lines() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trubka",
            "replay",
            str(TRACES / "08-cyrillic-callerid.ami"),
            "--json",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode("utf-8")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["caller_name"] for line in lines] == ["Иван Петров", "Ольга Смирнова"]
    assert {
        "linkedid",
        "direction",
        "caller_number",
        "caller_name",
        "called_number",
        "queue",
        "agent_interface",
        "agent_name",
        "started_at",
        "answered_at",
        "ended_at",
        "wait_seconds",
        "talk_seconds",
        "disposition",
        "routed_by",
        "recording_file",
    } <= set(lines[0])
