from __future__ import annotations

import httpx

from tests.conftest import LiveServer
from trubka.app import build_app
from trubka.settings import load_settings


async def test_status_page_serves_over_http(database_url: str) -> None:
    app = build_app(load_settings(database_url=database_url))
    async with LiveServer(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/status")
        assert page.status_code == 200
        assert "Live calls" in page.text
        status = (await client.get("/api/status")).json()
        assert status["live_calls"] == []
        assert status["stored_calls"] == 0
        assert status["ami"]["state"] in ("stopped", "connecting", "waiting")
