"""/metrics: the live picture for Prometheus, loopback or token only."""

from __future__ import annotations

import time

from telephony.pipeline import EventPipeline
from tests.kit_server import InProcess
from tests.kit_traces import TRACES
from trubka.app import build_app
from trubka.settings import load_settings


async def test_metrics_show_the_live_picture(database_url: str) -> None:
    app = build_app(load_settings(database_url=database_url))
    services = app.state.services
    # The state of trace 01 right after the agent started ringing.
    data = (TRACES / "01-queue-answered.ami").read_bytes()
    cut = data.index(b"Event: AgentCalled")
    ringing = data[: data.index(b"\r\n\r\n", cut) + 4]
    services.bus.publish(EventPipeline(state=services.live).feed(ringing, time.time()))
    async with InProcess(app) as server, server.client() as http:
        text = (await http.get("/metrics")).text
    assert "trubka_live_calls 1.0" in text
    assert 'trubka_agents{state="ringing"} 1.0' in text
    assert 'trubka_queue_waiting{queue="support"} 1.0' in text
    assert "trubka_websocket_clients 0.0" in text
    assert "trubka_routing_decisions_total" in text or "trubka_agi" in text


async def test_metrics_need_the_token_when_one_is_set(database_url: str) -> None:
    app = build_app(load_settings(database_url=database_url, metrics_token="s3cret"))
    async with InProcess(app) as server, server.client() as http:
        assert (await http.get("/metrics")).status_code == 401
        ok = await http.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "trubka_live_calls" in ok.text
