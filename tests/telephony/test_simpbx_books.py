"""The simulated PBX keeps Asterisk's books: `queue_log` and cdr_csv's `Master.csv`.

Read back with Trubka's own parsers (telephony/books), the books must tell each call the
way the AMI told it live: the records `records_from_books` makes equal the records the
live pipeline reconstructed, to the second the books are written in.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC
from pathlib import Path

from kernel.agents import interface_key
from kernel.call_record import SOURCE_BACKFILL
from telephony.books import cdr
from telephony.books.queue_log import QueueOutcome, queue_calls
from telephony.books.records import BooksConfig, records_from_books
from telephony.records import CallRecord
from telephony.simpbx import HangupBy, LegacyText, SimPbx
from tests.telephony.kit_sim import RawAmi, replay_reads, running, sim_config

SECOND = 1.0 + 0.3  # the books hold whole seconds; the live records fractions


async def _one(pbx: SimPbx, **kwargs: object) -> None:
    call = pbx.place_call(**kwargs)  # type: ignore[arg-type]
    assert call.task is not None
    await call.task


def _from_books(queue_log: Path, master: Path) -> list[CallRecord]:
    stays = queue_calls(queue_log.read_text(encoding="utf-8").splitlines())
    rows, problems = cdr.parse_lines(master.read_text(encoding="utf-8").splitlines(), UTC)
    assert problems == []
    return records_from_books(stays, cdr.calls(rows), BooksConfig())


def _same_call(booked: CallRecord, live: CallRecord) -> None:
    assert booked.source == SOURCE_BACKFILL
    assert booked.direction is live.direction
    assert booked.caller_number == live.caller_number
    assert booked.caller_name == live.caller_name
    assert booked.queue == live.queue
    assert booked.disposition is live.disposition, (booked, live)
    got = interface_key(booked.agent_interface) if booked.agent_interface else None
    want = interface_key(live.agent_interface) if live.agent_interface else None
    assert got == want, (booked, live)
    assert abs(booked.started_at - live.started_at) <= SECOND
    assert abs(booked.ended_at - live.ended_at) <= SECOND
    assert abs(booked.wait_seconds - live.wait_seconds) <= SECOND
    assert abs(booked.talk_seconds - live.talk_seconds) <= SECOND


async def test_the_books_tell_each_call_as_the_ami_did(tmp_path: Path) -> None:
    queue_log, master = tmp_path / "queue_log", tmp_path / "Master.csv"
    config = sim_config(queue_log_path=queue_log, cdr_csv_path=master)
    async with running(config) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        await _one(pbx, number="79160000001", name="Иван Петров", answered_by="101", talk_time=1.2)
        await _one(pbx, number="79160000003", name="Сергей", hangup_by=HangupBy.AGENT)
        pbx.set_agents_answer(False)
        await _one(pbx, number="79160000004", name="Ольга", patience=0.6)  # abandons ringing
        await _one(pbx, number="79160000005", name="Мария", patience=0.3, queue="empty")
        pbx.set_agents_answer(True)
        await _one(pbx, number="74951110002", name=LegacyText("Ольга Смирнова"), queue="sales")
        await _one(pbx, number="79161000001", name="Алексей", answered_by="101", transfer_to="104")
        await pbx.wait_idle(10)
        await raw.sync()
        live, _, _ = replay_reads(raw.reads)
        await raw.close()

    assert len(live) == 6
    booked = {r.linkedid: r for r in _from_books(queue_log, master)}
    assert sorted(booked) == sorted(r.linkedid for r in live)
    for record in live:
        _same_call(booked[record.linkedid], record)
    lines = queue_log.read_text(encoding="utf-8").splitlines()
    events = [line.split("|")[4] for line in lines]
    for event in ("ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON"):
        assert event in events
    assert "RINGNOANSWER" in events and "BLINDTRANSFER" in events
    text = master.read_text(encoding="utf-8")
    assert "Ольга Смирнова" in text  # cp1251 on the wire, text in the book
    assert {len(cells) for cells in csv.reader(text.splitlines())} == {21}


async def test_a_queue_timeout_is_booked_as_exitwithtimeout(tmp_path: Path) -> None:
    queue_log, master = tmp_path / "queue_log", tmp_path / "Master.csv"
    async with running(sim_config(queue_log_path=queue_log, cdr_csv_path=master)) as pbx:
        pbx.set_agents_answer(False)
        await _one(pbx, number="79160000006", name="Павел", queue="short")
        await pbx.wait_idle(10)
        (call,) = pbx.history
    (stay,) = queue_calls(queue_log.read_text(encoding="utf-8").splitlines())
    assert stay.callid != call.linkedid  # the caller's channel, not the call
    assert stay.outcome is QueueOutcome.TIMEOUT
    assert stay.queue == "short"
    rows, problems = cdr.parse_lines(master.read_text(encoding="utf-8").splitlines(), UTC)
    assert problems == []
    (row,) = rows
    assert (row.linkedid, row.uniqueid, row.disposition) == (
        call.linkedid,
        stay.callid,
        "NO ANSWER",
    )


async def test_a_queue_timeout_is_no_answer_from_the_books_as_live(tmp_path: Path) -> None:
    queue_log, master = tmp_path / "queue_log", tmp_path / "Master.csv"
    async with running(sim_config(queue_log_path=queue_log, cdr_csv_path=master)) as pbx:
        raw = RawAmi(pbx.port)
        await raw.connect()
        pbx.set_agents_answer(False)
        await _one(pbx, number="79160000006", name="Павел", queue="short")
        await pbx.wait_idle(10)
        await raw.sync()
        (live,), _, _ = replay_reads(raw.reads)
        await raw.close()
    (booked,) = _from_books(queue_log, master)
    assert live.disposition.value == "no-answer"
    assert booked.disposition is live.disposition


async def test_only_the_books_named_are_written(tmp_path: Path) -> None:
    async with running(sim_config(queue_log_path=tmp_path / "queue_log")) as pbx:
        await _one(pbx, number="79160000001", name="Иван", answered_by="101")
        await pbx.wait_idle(10)
        assert pbx.engine.books.enabled
    assert os.listdir(tmp_path) == ["queue_log"]
    async with running() as pbx:
        assert not pbx.engine.books.enabled
