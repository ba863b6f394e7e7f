"""Several Asterisk servers: the backfill from the books of every PBX that names them.

Two simulated PBXes (`a`, the first, without books, and `b`, writing its `queue_log` and
`Master.csv`) feed one Trubka (SQLite and PostgreSQL). Trubka stops; a call is answered
on `b` meanwhile; Trubka starts again: the call is stored from `b`'s books, with PBX `b`,
exactly once, and the call Trubka saw live on `b` before stays as it was.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from crm.book_cursors import BookCursorRow
from crm.call_records import CallRow
from kernel.agents import interface_key
from telephony.simpbx import AgentConfig, SimPbx
from tests.kit_server import InProcess
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
from trubka.app import build_app
from trubka.settings import Settings, load_settings
from trubka.wiring import Services

AGENTS_A = (AgentConfig("101", "Анна Смирнова", ("support",)),)
AGENTS_B = (AgentConfig("201", "Вера Соколова", ("support",)),)


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - nothing to await for a file read
            await asyncio.sleep(0.05)


async def _rows(services: Services) -> list[CallRow]:
    async with services.db.session() as session:
        return list((await session.scalars(select(CallRow).order_by(CallRow.id))).all())


async def _stored(services: Services, linkedid: str, timeout: float = 10.0) -> CallRow:
    async with asyncio.timeout(timeout):
        while True:
            found = [r for r in await _rows(services) if r.linkedid == linkedid]
            if found:
                return found[0]
            await asyncio.sleep(0.1)


def _settings(database_url: str, pbx_a: SimPbx, pbx_b: SimPbx, tmp_path: Path) -> Settings:
    pbxes = [
        {"name": "a", "ami_port": pbx_a.port, "ami_user": USER, "ami_secret": SECRET},
        {
            "name": "b",
            "ami_port": pbx_b.port,
            "ami_user": USER,
            "ami_secret": SECRET,
            "asterisk_queue_log": str(tmp_path / "queue_log"),
            "asterisk_cdr": str(tmp_path / "Master.csv"),
            "asterisk_cdr_timezone": "UTC",  # the simulated PBX writes the CDR in UTC
        },
    ]
    return load_settings(
        database_url=database_url,
        pbxes=json.dumps(pbxes),
        ami_enabled=True,
        backfill_interval=1.0,
        backfill_settle=1.0,
    )


async def _call(pbx: SimPbx, number: str, agent: str) -> str:
    call = pbx.place_call(number, "Иван Петров", answered_by=agent, talk_time=0.5)
    assert call.task is not None
    await call.task
    await pbx.wait_idle(10)
    return call.linkedid


async def test_a_call_on_another_pbx_while_trubka_was_down_is_backfilled_once(
    database_url: str, tmp_path: Path
) -> None:
    books = {"queue_log_path": tmp_path / "queue_log", "cdr_csv_path": tmp_path / "Master.csv"}
    async with (
        running(sim_config(agents=AGENTS_A)) as pbx_a,
        running(sim_config(agents=AGENTS_B, seed=8, **books)) as pbx_b,
    ):
        settings = _settings(database_url, pbx_a, pbx_b, tmp_path)
        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app):
            assert services.backfill is None  # the first PBX names no books
            assert services.pbx_edges is not None
            backfill = services.pbx_edges.extras[0].backfill
            assert backfill is not None
            edge_ami = services.pbx_edges.extras[0].ami
            await _until(lambda: edge_ami is not None and edge_ami.connected)
            seen = await _call(pbx_b, "79160000001", "201")
            await _stored(services, seen)
            read_from = time.time() + settings.backfill_settle
            await _until(lambda: backfill.last is not None and backfill.last.at > read_from)

        outage = await _call(pbx_b, "79160000002", "201")  # Trubka is down
        unbooked = await _call(pbx_a, "79160000003", "101")  # a keeps no books

        app = build_app(settings)
        services = app.state.services
        async with InProcess(app):
            assert services.pbx_edges is not None
            backfill = services.pbx_edges.extras[0].backfill
            assert backfill is not None
            booked = await _stored(services, outage, timeout=5.0)
            runs = backfill.last.at if backfill.last is not None else 0.0
            await _until(lambda: backfill.last is not None and backfill.last.at > runs + 1.0)
            rows = await _rows(services)
            async with services.db.session() as session:
                cursors = set((await session.scalars(select(BookCursorRow.name))).all())

    assert sorted((r.linkedid, r.pbx) for r in rows) == sorted([(seen, "b"), (outage, "b")])
    assert unbooked not in {r.linkedid for r in rows}
    live = next(r for r in rows if r.linkedid == seen)
    assert live.source == "ami"
    assert (booked.source, booked.pbx, booked.disposition) == ("backfill", "b", "answered")
    assert booked.caller_number == "+79160000002"
    assert booked.agent_interface is not None
    assert interface_key(booked.agent_interface) == "Local/201@agents"
    assert {"b:queue_log", "b:cdr_csv"} <= cursors
    assert not {"queue_log", "cdr_csv"} & cursors  # the first PBX's names stay free
