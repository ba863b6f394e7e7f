"""Helpers for the live-view tests: Trubka against the simulated PBX, a supervisor's
WebSocket that merges `live_update` messages as the page's script does."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from telephony.simpbx import SimConfig, SimPbx
from tests.kit_server import LiveServer
from tests.telephony.kit_sim import SECRET, USER, sim_config
from trubka.app import build_app
from trubka.settings import Settings, load_settings
from trubka.wiring import Services

PASSWORD = "correct horse"
BOSS_PHONE = "Local/200@agents/n"  # the supervisor's own phone: an extension the sim knows


def quiet_sim(**overrides: Any) -> SimConfig:
    """The tests' fast PBX, without recordings (no spool to ingest)."""
    return sim_config(record=False, **overrides)


def pointed_settings(database_url: str, pbx: SimPbx, **overrides: Any) -> Settings:
    return load_settings(
        database_url=database_url,
        ami_enabled=True,
        ami_host="127.0.0.1",
        ami_port=pbx.port,
        ami_user=USER,
        ami_secret=SECRET,
        agi_enabled=False,
        live_update_interval=0.05,
        **overrides,
    )


@dataclass
class LiveModel:
    """The live picture merged from `live_update` messages (what live.js keeps)."""

    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    seq: int = -1
    fulls: int = 0
    deltas: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["full"]:
            self.queues = {q["queue"]: q for q in message["queues"]}
            self.agents = {a["interface"]: a for a in message["agents"]}
            self.totals = message["totals"]
            self.seq = message["seq"]
            self.fulls += 1
            return
        if self.seq < 0 or message["seq"] <= self.seq:
            return
        assert message["seq"] == self.seq + 1, (self.seq, message["seq"])
        self.seq = message["seq"]
        self.deltas += 1
        for q in message["queues"]:
            self.queues[q["queue"]] = q
        for a in message["agents"]:
            self.agents[a["interface"]] = a
        for key in message["removed_agents"]:
            self.agents.pop(key, None)
        self.totals = message["totals"]

    def queue(self, name: str) -> dict[str, Any]:
        return self.queues[name]

    def today(self, name: str) -> dict[str, Any]:
        return dict(self.queues[name]["today"]) if name in self.queues else {}


class LiveSocket:
    """A supervisor's `/ws` connection that keeps a :class:`LiveModel`."""

    def __init__(self, url: str, cookie: str) -> None:
        self.url = url.replace("http://", "ws://") + "/ws"
        self.cookie = cookie
        self.model = LiveModel()
        self.other: list[dict[str, Any]] = []  # screen pops and the like
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._socket: Any = None

    async def __aenter__(self) -> LiveSocket:
        self._socket = await websockets.connect(
            self.url, additional_headers={"Cookie": f"trubka_session={self.cookie}"}
        )
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._socket.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self) -> None:
        async for text in self._socket:
            message = json.loads(text)
            async with self._changed:
                if message.get("type") == "live_update":
                    self.model.apply(message)
                else:
                    self.other.append(message)
                self._changed.notify_all()

    async def until(
        self, predicate: Callable[[LiveModel], bool], timeout: float = 10.0
    ) -> LiveModel:
        """Wait for the merged picture to satisfy `predicate` (checked on every message)."""

        def ready() -> bool:
            try:
                return self.model.seq >= 0 and bool(predicate(self.model))
            except KeyError:
                return False

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            raise AssertionError(f"the live view never got there: {self.summary()}") from None
        return self.model

    def summary(self) -> str:
        m = self.model
        queues = {
            name: {
                "waiting": [w["caller_number"] for w in q["waiting"]],
                "counts": q["counts"],
                "today": {k: q["today"].get(k) for k in ("offered", "answered", "abandoned")},
            }
            for name, q in m.queues.items()
        }
        agents = {key: (a["state"], bool(a["current_call"])) for key, a in m.agents.items()}
        return f"seq={m.seq} fulls={m.fulls} deltas={m.deltas} {queues} {agents} {m.totals}"


async def sign_in(http: httpx.AsyncClient, services: Services, login: str, role: str,
                  interfaces: tuple[str, ...] = ()) -> str:  # fmt: skip
    """Create a user and sign `http` in; returns the session cookie."""
    if await services.crm.users.get_by_login(login) is None:
        await services.crm.users.create(
            login=login, name=login.title(), role=role, password=PASSWORD, interfaces=interfaces
        )
    response = await http.post("/api/session", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = http.cookies.get("trubka_session")
    assert cookie
    return cookie


@dataclass
class Running:
    pbx: SimPbx
    services: Services
    server: LiveServer
    http: httpx.AsyncClient
    cookie: str

    def socket(self) -> LiveSocket:
        return LiveSocket(self.server.url, self.cookie)


@contextlib.asynccontextmanager
async def trubka(
    database_url: str, pbx: SimPbx, *, login: str = "boss", role: str = "supervisor",
    interfaces: tuple[str, ...] = (BOSS_PHONE,), **settings: Any,
) -> AsyncIterator[Running]:  # fmt: skip
    """Trubka (real uvicorn) on the simulated PBX, with a signed-in client; waits until
    the AMI link is up and the first resync is in."""
    app = build_app(pointed_settings(database_url, pbx, **settings))
    services: Services = app.state.services
    # Today's figures follow the report rollups, which catch up at most every 2 s while
    # calls keep ending: throttled as in production, at a test's pace.
    services.supervisor.rollups.min_interval = 0.2
    async with (
        LiveServer(app) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
    ):
        assert services.ami is not None
        await connected(services)
        cookie = await sign_in(http, services, login, role, interfaces)
        yield Running(pbx, services, server, http, cookie)


async def connected(services: Services, timeout: float = 10.0) -> None:
    """Wait until the AMI link is up and resynced (its state has no event to await)."""
    assert services.ami is not None
    async with asyncio.timeout(timeout):
        while services.ami.status_json()["state"] != "connected":  # noqa: ASYNC110
            await asyncio.sleep(0.02)
