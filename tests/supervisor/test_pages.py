"""The supervisor pages over real HTTP: who may open them, Russian and English, the hand-
computed report figures in the tables, charts and CSV links, bad dates, escaping."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.kit_server import InProcess
from tests.kit_traces import trace_path
from tests.supervisor.kit_dataset import CALLS, TIMEZONE
from tests.supervisor.kit_live import PASSWORD
from tests.supervisor.kit_traces import event, run_until
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

Site = tuple[InProcess, Services]


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    settings = load_settings(
        database_url=database_url,
        timezone=TIMEZONE,
        queue_service_levels="sales=30",
        service_level_target=60,
        service_level_warning=50,
    )
    app = build_app(settings)
    async with InProcess(app) as server:
        services: Services = app.state.services
        await services.calls.save(CALLS)
        await services.supervisor.rollups.catch_up()
        for login, role, language in (
            ("boss", "supervisor", "ru"),
            ("chef", "supervisor", "en"),
            ("root", "admin", "en"),
            ("anna", "agent", "ru"),
        ):
            await services.crm.users.create(
                login=login, name=login.title(), role=role, password=PASSWORD, language=language
            )
        yield server, services


@contextlib.asynccontextmanager
async def client_for(server: InProcess, login: str | None) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as client:
        if login:
            response = await client.post(
                "/api/session", json={"login": login, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
        yield client


def json_block(html: str, name: str) -> Any:
    match = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>', html, re.S)
    assert match, name
    return json.loads(match.group(1))


async def test_who_may_open_the_pages(site: Site) -> None:
    server, _ = site
    for path in ("/supervisor", "/wallboard", "/reports"):
        async with client_for(server, None) as anonymous:
            response = await anonymous.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
        async with client_for(server, "anna") as agent:
            assert (await agent.get(path)).status_code == 403
        async with client_for(server, "boss") as boss:
            response = await boss.get(path)
            assert response.status_code == 200, response.text
            assert 'lang="ru"' in response.text


async def test_reports_page_shows_the_hand_computed_figures(
    site: Site,
) -> None:
    server, _ = site
    query = "/reports?start=2026-11-02&end=2026-11-02&queue=support"
    async with client_for(server, "boss") as boss:
        page = (await boss.get(query)).text
        assert "По очередям" in page and "Пропущенные звонки" in page
        support = _row(page, "support")
        # offered 9, answered 5, abandoned 3, not answered 1; SL 57.1 %, ASA 12.2 s,
        # AHT 152 s, abandon rate 33.3 % (see test_api / docs/reports.md)
        assert support[:4] == ["9", "5", "3", "1"]
        assert support[4:8] == ["57,1%", "0:12", "2:32", "33,3%"]
        assert page.count('role="img"') == 4  # a chart per report
        assert (
            'href="/api/reports/queues.csv?start=2026-11-02&amp;end=2026-11-02&amp;queue=support"'
            in page
        )
        assert (
            "/api/reports/missed?start=2026-11-02&amp;end=2026-11-02&amp;queue=support&amp;format=csv"
            in page
        )
        assert "Действия супервизоров" not in page  # the audit log is for admins
        csv = await boss.get(
            "/api/reports/queues.csv?start=2026-11-02&end=2026-11-02&queue=support"
        )
        assert csv.status_code == 200 and "57.1" in csv.text
    async with client_for(server, "chef") as chef:
        page = (await chef.get(query)).text
        assert _row(page, "support")[4:8] == ["57.1%", "0:12", "2:32", "33.3%"]
        assert "Per hour of the day" in page and "Missed calls (4)" in page
    async with client_for(server, "root") as root:
        page = (await root.get(query)).text
        assert "Supervisor actions" in page and "No actions yet." in page


async def test_bad_dates_are_named_and_nothing_breaks(site: Site) -> None:
    server, _ = site
    async with client_for(server, "chef") as chef:
        response = await chef.get("/reports?start=2026-11-05&end=2026-11-01")
        assert response.status_code == 422
        assert 'aria-invalid="true"' in response.text
        assert "is before start 2026-11-05" in response.text
        response = await chef.get("/reports?start=02.11.2026")
        assert response.status_code == 422 and "is not a date" in response.text
        response = await chef.get("/reports?start=2026-11-02&queue=%3Cscript%3Ex")
        assert response.status_code == 200
        assert "<script>x" not in response.text and "&lt;script&gt;x" in response.text


async def test_live_pages_carry_the_picture_and_escape_it(site: Site) -> None:
    server, services = site
    state, _ = run_until(trace_path("01-queue-answered.ami"), event("AgentCalled"))
    services.live.queues.update(state.queues)
    services.live.agents.update(state.agents)
    services.live.calls.update(state.calls)
    services.live.channels.update(state.channels)
    [call] = services.live.calls.values()
    call.caller_name = "</script><script>alert(1)</script>"
    for entry in services.live.queues["support"].entries.values():
        entry.caller_name = call.caller_name
    async with client_for(server, "boss") as boss:
        page = (await boss.get("/supervisor")).text
        assert "<script>alert(1)" not in page
        live = json_block(page, "live-data")
        [waiting] = next(q for q in live["queues"] if q["queue"] == "support")["waiting"]
        assert waiting["caller_name"] == "</script><script>alert(1)</script>"
        assert waiting["caller_number"] == "+79160000001"
        strings = json_block(page, "i18n")
        assert strings["listen"] == "Прослушать" and strings["state_on_call"] == "На линии"
        assert json_block(page, "live-config")["levels"] == {"target": 60.0, "warning": 50.0}
        assert 'data-agent="Local/101@agents"' in page
        board = (await boss.get("/wallboard?queues=support")).text
        assert (
            'data-queue="support"' in board
            and 'data-queue="sales"' not in board.split("<template")[0]
        )
        assert "<script>alert(1)" not in board


def _row(page: str, name: str) -> list[str]:
    """The cells of the first table row whose header is `name`."""
    match = re.search(rf'<tr><th scope="row">{name}</th>(.*?)</tr>', page, re.S)
    assert match, name
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    ]
