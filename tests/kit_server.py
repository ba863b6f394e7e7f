"""Running the app in tests.

`InProcess(app)` is the default: the app's lifespan runs in the test's own task and
httpx talks ASGI to it, so a test opens no socket and waits for no server. `LiveServer(app)`
is a real uvicorn on a free loopback port, for what needs one: WebSockets, the browser
tests, uvicorn's own behaviour (proxy headers). Both have `url` and `client()`:

    async with InProcess(app) as server, server.client() as http:
        page = await http.get("/login")

The tests' settings leave the AMI client and the FastAGI server off (see the root
conftest); a test that needs them says so (`ami_enabled=True`, `agi_enabled=True`).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

_RANDOM = random.SystemRandom()
# Ports handed out by `free_port`: above the Asterisk kit's (it picks from 20000–29979)
# and below the kernel's ephemeral range, where any outgoing connection — of this test
# process or of another one running beside it (pytest-xdist) — may take a port between
# the check and the server binding it.
_PORTS_FROM = 30000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port nobody listens on right now, that no outgoing connection takes
    meanwhile: from 30000 up to the kernel's ephemeral range, each pytest-xdist test
    process in a slice of its own (so two never hand out the same port). Where the
    ephemeral range starts too low for that, the kernel's choice."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    size = (_ephemeral_low() - _PORTS_FROM) // count
    if size >= 100:
        low = _PORTS_FROM + (index % count) * size
        for _ in range(200):
            port = _RANDOM.randrange(low, low + size)
            if _bindable(port):
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class InProcess:
    """The app started and stopped as uvicorn would (its lifespan), served without a socket.

    Requests come from 127.0.0.1 (loopback), like a real client on this host. An error in
    a handler is a 500, as a real server answers, not an exception in the test.
    """

    url = "http://testserver"

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._lifespan: AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self) -> InProcess:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._lifespan is not None
        await self._lifespan.__aexit__(*exc)

    def client(self, **options: Any) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(
            self.app, raise_app_exceptions=False, client=("127.0.0.1", 50000)
        )
        options.setdefault("timeout", 10)
        return httpx.AsyncClient(transport=transport, base_url=self.url, **options)


class LiveServer:
    """A real uvicorn server for an ASGI app, on a free loopback port, in this event loop."""

    def __init__(self, app: object) -> None:
        import uvicorn

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def client(self, **options: Any) -> httpx.AsyncClient:
        options.setdefault("timeout", 10)
        return httpx.AsyncClient(base_url=self.url, **options)

    async def __aenter__(self) -> LiveServer:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("server exited before starting")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


async def sign_in(
    http: httpx.AsyncClient, services: Any, *, login: str = "tester", role: str = "supervisor"
) -> None:
    """Create a user and sign `http` in as them."""
    crm = services.crm
    if await crm.users.get_by_login(login) is None:
        await crm.users.create(login=login, name=login.title(), role=role, password="test-password")
    response = await http.post("/api/session", json={"login": login, "password": "test-password"})
    assert response.status_code == 200, response.text
