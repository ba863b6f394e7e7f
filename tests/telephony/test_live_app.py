"""`trubka demo`'s wiring: the simulated PBX placing calls, the AMI client in the app's
lifespan, the call writer storing records, the status page showing them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

import httpx

from tests.kit_server import InProcess, free_port, sign_in
from tests.telephony.kit_sim import FAST
from trubka.app import build_app
from trubka.demo import start_demo_pbx
from trubka.settings import load_settings

TEST_DEFAULTS = ("TRUBKA_AMI_ENABLED", "TRUBKA_AGI_ENABLED")


async def _poll(http: httpx.AsyncClient, done: object, timeout: float = 10.0) -> dict[str, object]:
    async with asyncio.timeout(timeout):
        while True:
            status: dict[str, object] = (await http.get("/api/status")).json()
            if done(status):  # type: ignore[operator]
                return status
            await asyncio.sleep(0.05)


async def test_calls_are_stored_within_seconds(database_url: str, tmp_path: Path) -> None:
    settings = load_settings(
        database_url=database_url,
        recordings_spool=tmp_path / "spool",
        agi_enabled=True,
        agi_port=free_port(),
    )
    timing = replace(
        FAST, talk_time=(0.1, 0.3), patience=(0.5, 2.0), no_answer_share=0.1, agent_hangup_share=0.3
    )
    pbx, pointed = await start_demo_pbx(settings, call_interval=0.1, timing=timing)
    try:
        assert pointed.ami_port == pbx.port and pointed.ami_secret == pbx.config.secret
        app = build_app(pointed)
        async with InProcess(app) as server, server.client() as http:
            await sign_in(http, app.state.services)
            status = await _poll(http, lambda s: s["stored_calls"] >= 3)
            ami = status["ami"]
            assert isinstance(ami, dict) and ami["state"] == "connected"
            page = await http.get("/status")
            assert page.status_code == 200
            assert "AMI 127.0.0.1:" in page.text and "connected" in page.text
            assert page.text.count(">отвечен<") + page.text.count(">брошен<") >= 3  # recent calls
        assert list((tmp_path / "spool").glob("*.wav"))
    finally:
        await pbx.stop()
        assert pbx.server is not None and not pbx.server._session_tasks  # no session left over


async def test_trubka_demo_command(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("TRUBKA_AMI_ENABLED", "TRUBKA_AGI_ENABLED")
        },
        "TRUBKA_HTTP_PORT": str(port),
        "TRUBKA_AGI_PORT": str(free_port()),
        "TRUBKA_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "TRUBKA_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "trubka",
        "demo",
        "--call-interval",
        "0.3",
        "--contacts",  # the default 300 take seconds to create
        "20",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        assert line.decode().startswith(f"Trubka demo: http://127.0.0.1:{port}")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with asyncio.timeout(15):
                while True:  # the server starts right after printing the URL
                    try:
                        signed = await http.post(
                            "/api/session",
                            json={"login": "supervisor", "password": "trubka-demo"},
                        )
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            assert signed.status_code == 200, signed.text
            async with asyncio.timeout(15):
                while True:
                    try:
                        status = (await http.get("/api/status")).json()
                    except httpx.TransportError:
                        status = {}
                    if status.get("live_calls"):
                        break
                    await asyncio.sleep(0.1)
            assert status["ami"]["state"] == "connected"
            assert (await http.get("/status")).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 15)
    assert code == 0
    assert (tmp_path / "demo.db").exists()
