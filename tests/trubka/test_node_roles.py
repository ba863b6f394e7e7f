"""A node's roles, its health endpoints, its metrics, the drain, and SQLite's one node.

- `TRUBKA_ROLES` / `trubka serve --roles` choose what runs: a `web` node neither
  connects to AMI nor listens for FastAGI nor runs the workers; a `workers` node serves
  only `/healthz`, `/readyz` and `/metrics` over HTTP.
- `/healthz` and `/readyz` answer JSON without sign-in; `/readyz` names each check and
  turns 503 while the node drains; `/metrics` has the node's figures.
- A second node on one SQLite file is refused with a message saying why, in process
  and as a `trubka serve` process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from screenpop.hub import CLOSE_SERVICE_RESTART, Client, Hub
from tests.kit_server import InProcess
from tests.telephony.kit_sim import SECRET, USER, running
from trubka.app import build_app
from trubka.cli import main
from trubka.node_lock import NodeRefused
from trubka.settings import ROLES, Settings, SettingsError, load_settings
from trubka.wiring import Services

ROOT = Path(__file__).resolve().parents[2]


def _tasks(services: Services) -> set[str]:
    return {task.get_name() for task in services.tasks._tasks}


def test_roles_come_from_the_environment_and_default_to_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().roles == frozenset(ROLES)
    monkeypatch.setenv("TRUBKA_ROLES", " web , workers ")
    assert load_settings().roles == {"web", "workers"}
    monkeypatch.setenv("TRUBKA_ROLES", "web,pbx")
    with pytest.raises(SettingsError, match="TRUBKA_ROLES: unknown role 'pbx'"):
        load_settings()


def test_serve_refuses_an_unknown_role() -> None:
    result = CliRunner().invoke(main, ["serve", "--roles", "ami,bogus"])
    assert result.exit_code == 2
    assert "unknown role 'bogus'" in result.output


async def test_a_web_node_runs_no_ami_no_fastagi_and_no_workers(tmp_path: Path) -> None:
    async with running() as pbx:
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path}/t.db",
            roles="web",
            ami_enabled=True,
            ami_port=pbx.port,
            ami_user=USER,
            ami_secret=SECRET,
            agi_enabled=True,
        )
        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app) as server, server.client() as client:
            assert services.ami is None  # no AMI client at all
            assert not services.agi.listening
            names = _tasks(services)
            assert "screen-pop" in names
            for worker in ("call-writer", "report-rollups", "recordings-worker", "backfill"):
                assert worker not in names
            assert "webhook-delivery" not in names and "agent-time" not in names
            assert not any(s.logged_in for s in pbx.server.sessions)  # type: ignore[union-attr]
            assert (await client.get("/login")).status_code == 200  # the pages are served
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": "ok"}
            assert ready.json()["roles"] == ["web"]


async def test_a_workers_node_serves_health_and_metrics_only(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/t.db", roles="workers")
    app = build_app(settings)
    services: Services = app.state.services
    async with InProcess(app) as server, server.client() as client:
        names = _tasks(services)
        assert {"report-rollups", "recordings-worker", "webhook-delivery"} <= names
        assert "call-writer" not in names and "agent-time" not in names
        assert (await client.get("/healthz")).json()["roles"] == ["workers"]
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        for path in ("/login", "/api/session", "/api/calls", "/"):
            assert (await client.get(path)).status_code == 404, path


async def test_health_ready_and_metrics_of_a_node_consuming_ami(tmp_path: Path) -> None:
    async with running() as pbx:
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path}/t.db",
            node_name="node-a",
            ami_enabled=True,
            ami_port=pbx.port,
            ami_user=USER,
            ami_secret=SECRET,
            agi_enabled=True,
        )
        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app) as server, server.client() as client:
            live = await client.get("/healthz")
            assert live.status_code == 200
            assert live.json()["status"] == "ok" and live.json()["node"] == "node-a"
            assert live.headers["cache-control"] == "no-store"
            assert services.ami is not None
            await services.ami.wait_connected(5)
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {
                "database": "ok",
                "ami": "connected",
                "agi": "listening",
            }
            assert ready.json()["status"] == "ready"
            metrics = (await client.get("/metrics")).text
            assert 'trubka_node_info{node="node-a",roles="agi,ami,web,workers"} 1.0' in metrics
            assert "trubka_ami_connected 1.0" in metrics
            assert "trubka_screen_pops_sent_total 0.0" in metrics
            assert "trubka_webhook_outbox_depth 0.0" in metrics
            assert "trubka_websocket_clients 0.0" in metrics
            assert "trubka_calls_stored_total" in metrics
            assert "trubka_ami_lease_held" not in metrics  # SQLite: one node, no lease

            await services.node.drain()
            drained = await client.get("/readyz")
            assert drained.status_code == 503
            assert drained.json()["status"] == "draining"
            assert "trubka_node_draining 1.0" in (await client.get("/metrics")).text


async def test_draining_tells_every_socket_to_reconnect_then_closes_it() -> None:
    hub = Hub()
    sent: list[str] = []
    closed: list[tuple[int, str]] = []

    async def send_text(text: str) -> None:
        sent.append(text)

    async def close(code: int, reason: str) -> None:
        closed.append((code, reason))

    client = Client(user_id=1, role="agent", send_text=send_text, close=close)
    hub.register(client)
    writer = asyncio.create_task(hub.serve(client))
    try:
        told = await hub.drain({"type": "reconnect", "reason": "node_shutdown"}, grace=1.0)
    finally:
        writer.cancel()
    assert told == 1
    assert sent == ['{"type":"reconnect","reason":"node_shutdown"}']
    assert closed and closed[0][0] == CLOSE_SERVICE_RESTART == 1012
    assert hub.stats.connected == 0


async def test_a_second_node_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/one.db"
    first = build_app(load_settings(database_url=url))
    async with InProcess(first):
        second = Services.create(load_settings(database_url=url))
        with pytest.raises(NodeRefused, match="SQLite serves one node") as refused:
            await second.start()
        assert "use PostgreSQL" in str(refused.value)
        await second.db.dispose()
        # …and as a process: `trubka serve` exits at once with the message.
        env = _env(url)
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "trubka", "serve"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "another Trubka node" in result.stderr
        assert "SQLite serves one node" in result.stderr
    # Once the first node stopped, the lock is free again.
    again = Services.create(load_settings(database_url=url))
    again.node.claim()
    again.node.release()
    await again.db.dispose()


def _env(url: str, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUBKA_")}
    env.update(
        PYTHONPATH=str(ROOT),
        TRUBKA_DATABASE_URL=url,
        TRUBKA_AMI_ENABLED="false",
        TRUBKA_AGI_ENABLED="false",
        TRUBKA_HTTP_PORT="0",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def test_settings_refuse_a_lease_renewed_too_rarely() -> None:
    with pytest.raises(SettingsError, match="TRUBKA_AMI_LEASE_INTERVAL"):
        load_settings(ami_lease_ttl=3.0, ami_lease_interval=2.0)
    assert isinstance(load_settings(ami_lease_ttl=3.0, ami_lease_interval=1.0), Settings)


async def test_a_server_shutting_down_tells_its_sockets_to_reconnect(tmp_path: Path) -> None:
    """The real path: uvicorn (`DrainingServer`) asked to exit drains before it stops."""
    import json

    import websockets
    from websockets.exceptions import ConnectionClosed

    from tests.kit_server import LiveServer, sign_in
    from trubka.http_server import DrainingServer

    app = build_app(load_settings(database_url=f"sqlite:///{tmp_path}/t.db"))
    live = LiveServer(app)
    live.server = DrainingServer(live.server.config)
    async with live as server, server.client() as http:
        await sign_in(http, app.state.services, login="agent1", role="agent")
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        async with websockets.connect(server.ws_url, additional_headers={"Cookie": cookie}) as ws:
            await ws.send('{"type":"ping"}')
            while json.loads(await ws.recv())["type"] != "pong":
                pass
            server.server.should_exit = True  # what SIGTERM does
            messages = []
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(5):
                    while True:
                        messages.append(json.loads(await ws.recv()))
            assert {"type": "reconnect", "reason": "node_shutdown"} in messages
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


def test_trubka_nice_lowers_the_serving_process_s_cpu_priority(tmp_path: Path) -> None:
    """TRUBKA_NICE (a `workers` node sharing the pops' host, docs/deploy.md): the
    `trubka serve` process runs that much nicer than the one that started it."""
    own = os.getpriority(os.PRIO_PROCESS, 0)
    if own > 12:
        pytest.skip("this test process is already too nice to see 7 more")
    env = _env(f"sqlite:///{tmp_path}/nice.db", TRUBKA_NICE=7, TRUBKA_ROLES="workers")
    process = subprocess.Popen(
        [sys.executable, "-m", "trubka", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        seen = own
        for _ in range(300):  # it lowers its priority first thing in `serve`
            seen = os.getpriority(os.PRIO_PROCESS, process.pid)
            if seen != own or process.poll() is not None:
                break
            time.sleep(0.05)
        assert seen == own + 7
        assert process.poll() is None  # and serves on
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_settings_refuse_a_niceness_out_of_range() -> None:
    with pytest.raises(SettingsError, match="TRUBKA_NICE"):
        load_settings(nice=25)
