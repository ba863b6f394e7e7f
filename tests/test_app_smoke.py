from __future__ import annotations

from tests.kit_server import LiveServer, free_port
from trubka.app import build_app
from trubka.settings import load_settings


async def test_status_page_needs_sign_in_then_serves_over_http(database_url: str) -> None:
    """The whole app on a real socket, its AMI client trying a port where no PBX listens."""
    settings = load_settings(database_url=database_url, ami_enabled=True, ami_port=free_port())
    app = build_app(settings)
    async with LiveServer(app) as server, server.client() as client:
        page = await client.get("/status")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/status"
        assert (await client.get("/api/status")).status_code == 401
        await app.state.services.crm.users.create(
            login="anna", name="Анна", role="agent", password="correct horse", language="en"
        )
        signed = await client.post(
            "/api/session", json={"login": "anna", "password": "correct horse"}
        )
        assert signed.status_code == 200
        page = await client.get("/status")
        assert page.status_code == 200
        assert "Live calls" in page.text and "Анна" in page.text
        status = (await client.get("/api/status")).json()
        assert status["live_calls"] == []
        assert status["stored_calls"] == 0
        assert status["ami"]["state"] in ("stopped", "connecting", "waiting")
