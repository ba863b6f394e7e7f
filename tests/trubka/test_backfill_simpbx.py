"""Backfill after an outage, against the simulated PBX writing Asterisk's books.

Trubka runs in-process with AMI towards the simulated PBX and reads the `queue_log` and
`Master.csv` the simulated PBX writes (as Asterisk 22 does; CDR times in UTC). Trubka
stops; a call is answered and finished and another abandoned meanwhile; Trubka starts again: the
call is stored from the books (`source == "backfill"`) within seconds, exactly once, and
the call Trubka saw live before the outage stays as it was. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from kernel.agents import interface_key
from telephony.simpbx import SimPbx
from tests.kit_server import InProcess
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
from trubka.app import build_app
from trubka.settings import Settings, load_settings
from trubka.wiring import Services


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing to await for a file read
            await asyncio.sleep(0.05)


async def _stored(services: Services, linkedid: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while await services.calls.get(linkedid) is None:  # noqa: ASYNC110 - a database row
            await asyncio.sleep(0.1)


def _settings(database_url: str, pbx: SimPbx, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        ami_enabled=True,
        ami_host="127.0.0.1",
        ami_port=pbx.port,
        ami_user=USER,
        ami_secret=SECRET,
        asterisk_queue_log=tmp_path / "queue_log",
        asterisk_cdr=tmp_path / "Master.csv",
        asterisk_cdr_timezone="UTC",  # the simulated PBX writes the CDR in UTC
        backfill_interval=1.0,
        backfill_settle=1.0,
        recordings_spool=tmp_path / "spool",
    )


async def _call(pbx: SimPbx, number: str, agent: str) -> str:
    call = pbx.place_call(number, "Иван Петров", answered_by=agent, talk_time=0.5)
    assert call.task is not None
    await call.task
    await pbx.wait_idle(10)
    return call.linkedid


async def test_a_call_made_while_trubka_was_down_is_backfilled_once(
    database_url: str, tmp_path: Path
) -> None:
    config = sim_config(queue_log_path=tmp_path / "queue_log", cdr_csv_path=tmp_path / "Master.csv")
    async with running(config) as pbx:
        settings = _settings(database_url, pbx, tmp_path)

        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app):
            backfill = services.backfill
            assert backfill is not None
            assert services.ami is not None
            await _until(lambda: services.ami is not None and services.ami.connected)
            seen = await _call(pbx, "79160000001", "101")
            await _stored(services, seen)
            read_from = time.time() + settings.backfill_settle
            await _until(lambda: backfill.last is not None and backfill.last.at > read_from)

        outage = await _call(pbx, "79160000002", "102")  # Trubka is down
        gone = pbx.place_call("79160000003", "Ольга", queue="empty", patience=0.3)
        assert gone.task is not None
        await gone.task  # … and a caller gives up in a queue nobody answers

        app = build_app(settings)
        services = app.state.services
        async with InProcess(app):
            await _stored(services, outage, timeout=5.0)
            await _stored(services, gone.linkedid, timeout=5.0)
            backfill = services.backfill
            assert backfill is not None
            runs = backfill.last.at if backfill.last is not None else 0.0
            await _until(lambda: backfill.last is not None and backfill.last.at > runs + 1.0)
            rows = {row.linkedid: row for row in await services.calls.list()}

    assert sorted(rows) == sorted([seen, outage, gone.linkedid])  # each once, nothing else
    live, booked = rows[seen], rows[outage]
    assert live.source == "ami"
    assert booked.source == "backfill"
    assert booked.disposition == "answered"
    assert booked.queue == "support"
    assert booked.caller_number == "+79160000002"
    assert booked.agent_interface is not None
    assert interface_key(booked.agent_interface) == "Local/102@agents"
    assert booked.talk_seconds <= 2.0
    missed = rows[gone.linkedid]
    assert (missed.source, missed.disposition, missed.queue) == ("backfill", "abandoned", "empty")
    assert missed.agent_interface is None
