"""The HTTP server `trubka serve` starts, over real sockets: a request head has a
deadline and a size limit, uvicorn's connection limits are set (issue 17, item 4), and
tokens in query strings never reach the access log (item 7)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from crm.database import Database
from crm.users import use_fast_hashing
from trubka.cli.serve import _server
from trubka.settings import Settings, load_settings


@asynccontextmanager
async def serving(database_url: str, **overrides: Any) -> AsyncIterator[uvicorn.Server]:
    """The server exactly as `trubka serve` builds it, on a free port."""
    settings = load_settings(
        database_url=database_url,
        http_port=0,
        ami_enabled=False,
        agi_enabled=False,
        log_level="WARNING",
        **overrides,
    )
    server = _server(settings)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield server
    finally:
        server.should_exit = True
        await task


def port_of(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """Seconds until the server closes the connection (fails after `seconds`)."""
    start = time.monotonic()
    async with asyncio.timeout(seconds):
        while await reader.read(65536):
            pass
    return time.monotonic() - start


async def test_silent_and_slow_header_connections_are_closed(
    db: Database, database_url: str
) -> None:
    async with serving(database_url, http_header_timeout=1.0) as server:
        port = port_of(server)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await closed_within(reader, 4.0) < 3.0  # said nothing at all
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /login HTTP/1.1\r\nHost: x\r\n")

        async def trickle() -> None:
            for n in range(30):
                writer.write(b"X-Slow-%d: y\r\n" % n)
                await asyncio.sleep(0.2)

        dripping = asyncio.create_task(trickle())
        try:
            assert await closed_within(reader, 4.0) < 3.0  # a head that never ends
        finally:
            dripping.cancel()
            await asyncio.gather(dripping, return_exceptions=True)
            writer.close()


async def test_a_huge_header_is_refused(db: Database, database_url: str) -> None:
    async with serving(database_url, http_max_header_bytes=16384) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        try:
            writer.write(
                b"GET /login HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
            )
            async with asyncio.timeout(3):
                status = await reader.readline()
            assert int(status.split()[1]) in (400, 431)
        finally:
            writer.close()


async def test_keep_alive_and_websockets_outlive_the_header_deadline(
    db: Database, database_url: str
) -> None:
    use_fast_hashing()
    async with serving(database_url, http_header_timeout=1.0) as server:
        url = f"http://127.0.0.1:{port_of(server)}"
        services = server.config.app.state.services  # type: ignore[union-attr]
        await services.crm.users.create(
            login="anna", name="Anna", role="agent", password="correct horse"
        )
        async with httpx.AsyncClient(base_url=url) as client:
            signed = await client.post(
                "/api/session", json={"login": "anna", "password": "correct horse"}
            )
            assert signed.status_code == 200
            assert (await client.get("/api/session")).status_code == 200  # same connection
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            async with websockets.connect(
                url.replace("http", "ws") + "/ws", additional_headers={"Cookie": cookie}
            ) as ws:
                await asyncio.sleep(1.5)  # longer than the head's deadline
                await ws.send(json.dumps({"type": "ping"}))
                async with asyncio.timeout(3):
                    while json.loads(await ws.recv())["type"] != "pong":
                        pass


async def test_uvicorns_limits_come_from_the_settings(db: Database, database_url: str) -> None:
    async with serving(
        database_url, http_max_connections=123, http_keep_alive=7, http_max_header_bytes=20000
    ) as server:
        config = server.config
        assert config.limit_concurrency == 123
        assert config.timeout_keep_alive == 7
        assert config.h11_max_incomplete_event_size == 20000
    defaults = Settings()
    assert defaults.http_header_timeout == 10
    assert defaults.max_body_bytes == 1024 * 1024


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.mark.parametrize(
    "path", ["/metrics?token=s3cret-value", "/api/route?caller=1&token=s3cret-value"]
)
async def test_tokens_never_reach_the_access_log(
    db: Database, database_url: str, path: str
) -> None:
    collect = _Collect()
    access = logging.getLogger("uvicorn.access")
    async with serving(database_url, metrics_token="other", route_token="other") as server:
        access.addHandler(collect)
        access.setLevel(logging.INFO)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_of(server)}") as client:
                assert (await client.get(path)).status_code == 401
        finally:
            access.removeHandler(collect)
    logged = [line for line in collect.lines if "/metrics" in line or "/api/route" in line]
    assert logged, collect.lines
    assert all("s3cret-value" not in line for line in logged)
    assert any("token=***" in line for line in logged)
