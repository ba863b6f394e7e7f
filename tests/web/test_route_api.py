"""GET /api/route (in-process; over real HTTP behind a proxy), and the FastAGI server
started by the app's lifespan."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from routing.facts import AgentRef, RoutingFacts
from routing.source import InMemoryFactsSource
from telephony.pipeline import EventPipeline
from telephony.replay import load_index
from tests.kit_server import InProcess, LiveServer
from tests.kit_traces import trace_path
from tests.telephony.kit_fake_asterisk import call, environment
from trubka.app import build_app
from trubka.settings import SettingsError, load_settings

E164 = "+79161234567"


def app_for(database_url: str, **settings: object):  # type: ignore[no-untyped-def]
    app = build_app(load_settings(database_url=database_url, agi_port=0, **settings))
    services = app.state.services
    # The live state after trace 02: agents 101, 102 and 103 are free.
    path = trace_path("02-queue-abandoned-ringing.ami")
    data, index = path.read_bytes(), load_index(path)
    assert index
    pipeline = EventPipeline(state=services.live)
    for at, offset, length in index:
        pipeline.feed(data[offset : offset + length], at)
    services.router.clock = lambda: index[-1][0]
    talked = datetime.fromtimestamp(index[-1][0], UTC) - timedelta(days=2)
    services.use_facts_source(
        InMemoryFactsSource(
            {
                E164: RoutingFacts(
                    contact_id=7,
                    contact_name='Ольга "Оля" Смирнова',
                    last_agent=AgentRef(5, "Ivanova", ("Local/102@agents/n",)),
                    last_talked_at=talked,
                )
            }
        )
    )
    return app


async def test_route_as_json_from_loopback_without_a_token(database_url: str) -> None:
    async with (
        InProcess(app_for(database_url)) as server,
        server.client() as client,
    ):
        answer = await client.get(
            "/api/route", params={"caller": "8 916 123-45-67", "did": "84951110000"}
        )
        unknown = await client.get("/api/route", params={"caller": "anonymous"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {
        "routed_by": "previous-manager",
        "reason": "Ivanova: talked 2 days ago",
        "agent": "Local/102@agents/n",
        "agent_name": "Ivanova",
        "agent_user_id": 5,
        "timeout": 20,
        "wait": None,
        "queue": "support",
        "priority": None,
        "goto": None,
        "contact_id": 7,
        "contact_name": 'Ольга "Оля" Смирнова',
        "owner_user_id": None,
        "caller": E164,
        "did": "84951110000",
    }
    assert unknown.json()["routed_by"] == "unknown-caller"
    assert unknown.json()["agent"] is None


async def test_route_as_hash_for_curl(database_url: str) -> None:
    async with (
        InProcess(app_for(database_url)) as server,
        server.client() as client,
    ):
        answer = await client.get("/api/route", params={"caller": "79161234567", "format": "hash"})
    assert answer.headers["content-type"].startswith("text/plain")
    assert (
        "+" not in answer.text and " " not in answer.text
    )  # hashcompat=yes does not turn + into space
    fields = dict(parse_qsl(answer.text, keep_blank_values=True))
    assert fields == {
        "routed_by": "previous-manager",
        "reason": "Ivanova: talked 2 days ago",
        "agent": "Local/102@agents/n",
        "timeout": "20",
        "wait": "",
        "queue": "support",
        "priority": "",
        "goto": "",
        "contact_id": "7",
        "contact_name": "Ольга Оля Смирнова",
    }


async def test_token_is_required_when_configured(database_url: str) -> None:
    app = app_for(database_url, route_token="s3cret")
    async with InProcess(app) as server, server.client() as client:
        missing = await client.get("/api/route", params={"caller": "79161234567"})
        wrong = await client.get(
            "/api/route", params={"caller": "79161234567"}, headers={"X-Trubka-Token": "nope"}
        )
        header = await client.get(
            "/api/route", params={"caller": "79161234567"}, headers={"X-Trubka-Token": "s3cret"}
        )
        bearer = await client.get(
            "/api/route",
            params={"caller": "79161234567"},
            headers={"Authorization": "Bearer s3cret"},
        )
        query = await client.get("/api/route", params={"caller": "79161234567", "token": "s3cret"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert [r.status_code for r in (header, bearer, query)] == [200, 200, 200]
    assert header.json()["agent"] == "Local/102@agents/n"


async def test_other_hosts_are_refused_without_a_token(database_url: str) -> None:
    # A reverse proxy on this host forwards a request from elsewhere: uvicorn takes the
    # client address from X-Forwarded-For, and that client is not on loopback.
    async with (
        LiveServer(app_for(database_url)) as server,
        server.client() as client,
    ):
        forwarded = await client.get(
            "/api/route",
            params={"caller": "79161234567"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    assert forwarded.status_code == 403
    assert "TRUBKA_ROUTE_TOKEN" in forwarded.json()["message"]


async def test_garbage_parameters_still_get_a_queue_decision(database_url: str) -> None:
    async with (
        InProcess(app_for(database_url)) as server,
        server.client() as client,
    ):
        answer = await client.get(
            "/api/route", params={"caller": "9" * 3000 + "\n\"'", "did": "x" * 500}
        )
        bad_format = await client.get("/api/route", params={"caller": "1", "format": "xml"})
    assert answer.status_code == 200
    assert answer.json()["routed_by"] == "unknown-caller"
    assert bad_format.status_code == 422


async def test_the_app_runs_the_fastagi_server_and_stops_it(database_url: str) -> None:
    app = app_for(database_url, agi_enabled=True)
    services = app.state.services
    async with InProcess(app):
        port = services.agi.bound_port
        session = await call(port, environment())
        assert session.variables["ROUTE_AGENT"] == "Local/102@agents/n"
        assert session.variables["CALLERID(name)"] == "Ольга Оля Смирнова"
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_the_fastagi_server_can_be_turned_off(database_url: str) -> None:
    app = app_for(database_url, agi_enabled=False)
    async with InProcess(app):
        with pytest.raises(RuntimeError, match="not listening"):
            app.state.services.agi.bound_port  # noqa: B018


def test_a_bad_rules_file_stops_trubka_with_the_key_named(tmp_path: Path) -> None:
    rules = tmp_path / "routing.toml"
    rules.write_text('[dids."+74951110000"]\nwhen_busy = "later"\n', encoding="utf-8")
    with pytest.raises(
        SettingsError, match=r"TRUBKA_ROUTING_RULES: .*dids\.\+74951110000\.when_busy"
    ):
        build_app(load_settings(routing_rules=str(rules)))
