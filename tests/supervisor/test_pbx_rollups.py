"""Report rollups per PBX: a queue of the same name on two PBXes is summed in the
reports, and `pbx` (`GET /api/reports/queues?pbx=`) keeps one PBX's calls."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from crm.database import Database
from supervisor.periods import parse_period
from supervisor.reports import Group
from supervisor.rollup_tables import ReportDay, ReportHour
from telephony.records import CallRecord
from tests.kit_server import InProcess
from tests.supervisor.conftest import reporting
from tests.supervisor.kit_dataset import CALLS, TIMEZONE
from trubka.app import build_app
from trubka.settings import load_settings

PASSWORD = "correct horse"


def on_two_pbxes() -> list[CallRecord]:
    """The known calls on PBX `a`, and the same calls again on PBX `b`."""
    return [
        dataclasses.replace(c, pbx=name, linkedid=f"{name}-{c.linkedid}")
        for name in ("a", "b")
        for c in CALLS
    ]


async def test_the_rollups_keep_each_pbx_and_the_reports_sum_them(db: Database) -> None:
    one = reporting(db)
    period = parse_period("2026-11-02", "2026-11-03")
    assert await one.calls.save(on_two_pbxes()) == 2 * len(CALLS)
    await one.rollups.catch_up()
    async with db.session() as session:
        hours = set((await session.execute(select(ReportHour.pbx).distinct())).scalars())
        days = set((await session.execute(select(ReportDay.pbx).distinct())).scalars())
    assert hours == days == {"a", "b"}
    both = {r["queue"]: r for r in await one.reports.queues(period)}
    only_a = {r["queue"]: r for r in await one.reports.queues(period, pbx="a")}
    only_b = {r["queue"]: r for r in await one.reports.queues(period, pbx="b")}
    assert only_a == only_b
    support = only_a["support"]
    assert (support["offered"], support["answered"], support["abandoned"]) == (13, 8, 4)
    assert support["service_level"] == 60.0 and both["support"]["service_level"] == 60.0
    assert both["support"]["offered"] == 26 and both["sales"]["offered"] == 8
    hourly = await one.reports.queues(period, queue="support", group=Group.HOUR, pbx="b")
    assert sum(row["offered"] for row in hourly) == 13
    assert await one.reports.queues(period, pbx="nowhere") == []
    # rebuilt from calls: the same figures (the rows of each PBX replaced, none twice)
    await one.rollups.rebuild(period)
    assert {r["queue"]: r for r in await one.reports.queues(period, pbx="a")} == only_a


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        database_url=database_url, timezone=TIMEZONE, queue_service_levels="sales=30"
    )
    app = build_app(settings)
    async with InProcess(app) as server, server.client() as http:
        services = app.state.services
        await services.calls.save(on_two_pbxes())
        await services.supervisor.rollups.catch_up()
        await services.crm.users.create(
            login="boss", name="Boss", role="supervisor", password=PASSWORD
        )
        signed = await http.post("/api/session", json={"login": "boss", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        yield http


async def test_the_queue_report_api_filters_a_pbx(client: httpx.AsyncClient) -> None:
    params = {"start": "2026-11-02", "end": "2026-11-02"}
    every = (await client.get("/api/reports/queues", params=params)).json()
    assert "pbx" not in every
    assert {r["queue"]: r["offered"] for r in every["queues"]}["support"] == 18
    one = await client.get("/api/reports/queues", params={**params, "pbx": "b"})
    assert one.status_code == 200, one.text
    assert one.json()["pbx"] == "b"
    assert {r["queue"]: r["offered"] for r in one.json()["queues"]}["support"] == 9
    csv = await client.get("/api/reports/queues.csv", params={**params, "pbx": "a"})
    assert csv.status_code == 200 and "support,9," in csv.text
    long = await client.get("/api/reports/queues", params={**params, "pbx": "x" * 65})
    assert long.status_code == 422
