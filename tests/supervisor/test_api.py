"""The report and live APIs over real HTTP (uvicorn + httpx)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.kit_server import InProcess
from tests.supervisor.kit_dataset import CALLS, TIMEZONE
from trubka.app import build_app
from trubka.settings import load_settings

PASSWORD = "correct horse"


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        database_url=database_url, timezone=TIMEZONE, queue_service_levels="sales=30"
    )
    app = build_app(settings)
    async with InProcess(app) as server, server.client() as http:
        services = app.state.services
        await services.calls.save(CALLS)
        await services.supervisor.rollups.catch_up()
        await services.crm.users.create(
            login="boss", name="Boss", role="supervisor", password=PASSWORD
        )
        await services.crm.users.create(
            login="agent", name="Agent", role="agent", password=PASSWORD
        )
        signed = await http.post("/api/session", json={"login": "boss", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        http.live_state = services.live  # type: ignore[attr-defined]
        http.server = server  # type: ignore[attr-defined]
        yield http


async def test_reports_are_for_supervisors_only(client: httpx.AsyncClient) -> None:
    params = {"start": "2026-11-02", "end": "2026-11-02"}
    async with client.server.client() as anonymous:  # type: ignore[attr-defined]
        response = await anonymous.get("/api/reports/queues", params=params)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        await anonymous.post("/api/session", json={"login": "agent", "password": PASSWORD})
        for path in ("/api/reports/queues", "/api/reports/agents", "/api/live"):
            response = await anonymous.get(path, params=params)
            assert response.status_code == 403, path
            assert response.json()["code"] == "forbidden"


async def test_queue_report(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/reports/queues", params={"start": "2026-11-02", "end": "2026-11-02"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["timezone"], body["group"]) == (
        "2026-11-02",
        "2026-11-02",
        "Europe/Moscow",
        "total",
    )
    support = {row["queue"]: row for row in body["queues"]}["support"]
    assert {k: support[k] for k in ("offered", "answered", "abandoned", "answered_within_sl")} == {
        "offered": 9,
        "answered": 5,
        "abandoned": 3,
        "answered_within_sl": 4,
    }
    assert (
        support["service_level"],
        support["asa_seconds"],
        support["aht_seconds"],
        support["abandon_rate"],
    ) == (
        57.1,
        12.2,
        152.0,
        33.3,
    )
    one = await client.get(
        "/api/reports/queues?start=2026-11-02&end=2026-11-03&queue=sales&group=day"
    )
    assert [(r["day"], r["offered"]) for r in one.json()["queues"]] == [
        ("2026-11-02", 3),
        ("2026-11-03", 1),
    ]
    nothing = await client.get("/api/reports/queues?start=2026-11-02&queue=%3Cscript%3E")
    assert nothing.status_code == 200 and nothing.json()["queues"] == []


async def test_agent_report_and_missed_calls(client: httpx.AsyncClient) -> None:
    agents = (
        await client.get("/api/reports/agents?start=2026-11-02&agent=Local/101@agents/n")
    ).json()
    [row] = agents["agents"]
    assert (row["agent_interface"], row["agent_name"], row["answered"], row["aht_seconds"]) == (
        "Local/101@agents",
        "Agent 101",
        4,
        112.6,
    )
    hourly = (await client.get("/api/reports/agents?start=2026-11-02&group=hour_of_day")).json()
    assert {(r["agent_interface"], r["hour"]) for r in hourly["agents"]} >= {
        ("Local/102@agents", 9)
    }
    missed = (await client.get("/api/reports/missed?start=2026-11-02&limit=3")).json()
    assert missed["total"] == 6
    assert [c["linkedid"] for c in missed["calls"]] == [
        "1700000000.13",
        "1700000000.11",
        "1700000000.8",
    ]


async def test_csv_export(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/reports/queues.csv?start=2026-11-02&end=2026-11-03&group=day")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="queues-2026-11-02-2026-11-03.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0])[:4] == ["day", "queue", "offered", "answered"]
    assert {(r["day"], r["queue"]): r["service_level"] for r in rows}[
        ("2026-11-02", "support")
    ] == "57.1"
    same = await client.get(
        "/api/reports/queues?start=2026-11-02&end=2026-11-03&group=day&format=csv"
    )
    assert same.content == response.content
    agents = await client.get("/api/reports/agents?start=2026-11-02&format=csv")
    lines = agents.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("agent_interface,agent_name,answered")
    assert len(lines) == 4
    missed = await client.get("/api/reports/missed?start=2026-11-02&format=csv")
    assert missed.content.decode("utf-8-sig").splitlines()[0].startswith("started_at,linkedid")


BAD = [
    ("", "start", "start: is required (YYYY-MM-DD)"),
    ("start=2026-02-30", "start", "'2026-02-30' is not a date"),
    ("start=2026-11-02&end=2026-11-01", "end", "end: 2026-11-01 is before start 2026-11-02"),
    ("start=2024-01-01&end=2026-01-01", "end", "at most 366 days"),
    ("start=2026-11-02&group=week", "group", "'week' is not one of: total, day, hour, hour_of_day"),
    ("start=2026-11-02&format=xml", "format", "'xml' is not json or csv"),
]


async def test_bad_parameters_get_a_clear_422(client: httpx.AsyncClient) -> None:
    for query, parameter, text in BAD:
        await _refused(client, query, parameter, text)
    bad_limit = await client.get("/api/reports/missed?start=2026-11-02&limit=5000")
    assert bad_limit.status_code == 422
    assert bad_limit.json() == {
        "code": "invalid_parameter",
        "message": "limit: must be between 1 and 1000",
        "field": "limit",
        "parameter": "limit",
    }


async def _refused(client: httpx.AsyncClient, query: str, parameter: str, text: str) -> None:
    for path in ("/api/reports/queues", "/api/reports/agents", "/api/reports/missed"):
        if parameter == "group" and path.endswith("missed"):
            continue
        response = await client.get(f"{path}?{query}")
        assert response.status_code == 422, path
        assert response.json()["parameter"] == parameter
        assert text in response.json()["message"]
        assert response.json()["code"] == "invalid_parameter"


async def test_live_view(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/live")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"generated_at", "day", "queues", "agents", "totals", "alerts"}
    assert body["totals"]["calls_in_progress"] == 0
    for item in body["queues"]:
        assert set(item) >= {
            "queue",
            "waiting",
            "agents",
            "today",
            "counts",
            "longest_wait_seconds",
        }


async def test_line_report_counts_routed_calls_and_figures_say_what_they_count(
    client: httpx.AsyncClient,
) -> None:
    params = {"start": "2026-11-02", "end": "2026-11-02"}
    response = await client.get("/api/reports/lines", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    [line] = body["lines"]
    assert (line["line"], line["offered"], line["queued"], line["routed"]) == (
        "+74950000000",
        14,
        12,
        2,
    )
    assert "routed" in body["definitions"]["offered"]
    queues = (await client.get("/api/reports/queues", params=params)).json()
    sources = {
        r["queue"]: (r["service_level_seconds"], r["service_level_source"])
        for r in queues["queues"]
    }
    assert sources == {"sales": (30, "setting"), "support": (20, "default")}
    assert "Short abandons" in queues["definitions"]["service_level"]
    csv_body = (await client.get("/api/reports/lines.csv", params=params)).text
    assert "queued" in csv_body.splitlines()[0]
    page = await client.get("/reports", params=params)
    assert page.status_code == 200
    assert 'id="h-lines"' in page.text and 'id="figure-definitions"' in page.text
    assert 'data-sl-source="setting"' in page.text
