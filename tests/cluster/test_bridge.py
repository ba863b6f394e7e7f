"""The transport between nodes: PostgreSQL LISTEN/NOTIFY with bodies too large for a
payload stored in `cluster_messages`, packing, order, and a listener that comes back
after its connection is cut."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from kernel.task_set import TaskSet
from trubka.cluster.bridge import PAYLOAD_LIMIT, PgBridge
from trubka.settings import SettingsError, load_settings


def test_envelopes_are_packed_into_payloads_in_order() -> None:
    bridge = PgBridge("postgresql://unused", "node-a", lambda _e: None)
    envelopes = [
        json.dumps({"k": "u", "u": [n], "m": {"n": n, "pad": "x" * 900}}) for n in range(20)
    ]
    envelopes.insert(5, json.dumps({"k": "f", "x": [], "m": {"big": "я" * 9000}}))
    bodies = bridge.pack(envelopes)
    unpacked = [e for body in bodies for e in json.loads(body)]
    assert unpacked == [json.loads(e) for e in envelopes]
    small = [b for b in bodies if len(b.encode()) <= PAYLOAD_LIMIT - len("node-a|")]
    assert len(small) == len(bodies) - 1 and len(bodies) < 10  # one too large: stored
    assert any(json.loads(b) == [json.loads(envelopes[5])] for b in bodies)


def test_clustering_needs_postgresql() -> None:
    with pytest.raises(SettingsError, match="TRUBKA_CLUSTER"):
        load_settings(database_url="sqlite+aiosqlite:///x.db", cluster="true")
    assert not load_settings(database_url="sqlite+aiosqlite:///x.db").cluster_enabled
    pg = "postgresql+asyncpg://u:p@localhost/db"
    assert load_settings(database_url=pg).cluster_enabled
    assert not load_settings(database_url=pg, cluster="false").cluster_enabled


@pytest.fixture
async def dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Node:
    def __init__(self, dsn: str, name: str) -> None:
        self.got: list[dict[str, Any]] = []
        self.joined = 0
        self.changed = asyncio.Event()
        self.bridge = PgBridge(
            dsn,
            name,
            self._got,
            on_joined=self._joined,
            backoff_initial=0.05,
            backoff_max=0.2,
            keepalive=0.2,
        )

    def _got(self, envelope: dict[str, Any]) -> None:
        self.got.append(envelope)
        self.changed.set()

    def _joined(self) -> None:
        self.joined += 1
        self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not done():
                self.changed.clear()
                await self.changed.wait()

    async def wait_for(self, count: int) -> None:
        await self.until(lambda: len(self.got) >= count)


@pytest.fixture
async def pair(dsn: str) -> AsyncIterator[tuple[Node, Node]]:
    tasks = TaskSet()
    a, b = Node(dsn, "a"), Node(dsn, "b")
    for node in (a, b):
        tasks.start(node.bridge.run(), name=f"bridge-{node.bridge.node}")
    async with asyncio.timeout(10):
        await a.bridge.listening.wait()
        await b.bridge.listening.wait()
    yield a, b
    await tasks.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_messages_large_and_small_arrive_in_order_at_the_other_node(
    pair: tuple[Node, Node], dsn: str
) -> None:
    a, b = pair
    sent = []
    for n in range(300):
        body = {"n": n, "card": "Карточка " * (3000 if n % 50 == 7 else 1)}
        sent.append({"k": "u", "u": [n], "m": body})
        a.bridge.send(json.dumps(sent[-1], ensure_ascii=False))
    await b.wait_for(300)
    assert b.got == sent
    assert a.got == []  # a node skips its own messages
    assert a.bridge.stats.stored == 6  # the large ones went through the table
    assert a.bridge.stats.notifies < 100  # the small ones packed together
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM cluster_messages") == 6
    finally:
        await conn.close()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_cut_listener_connects_again_and_asks_for_the_whole_picture(
    pair: tuple[Node, Node], dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = pair
    assert b.joined == 1
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", b.bridge.listener_pid)
    finally:
        await conn.close()
    await b.until(lambda: b.joined >= 2)
    a.bridge.send('{"k":"sync"}')
    await b.wait_for(1)
    assert b.got == [{"k": "sync"}]
    assert b.bridge.stats.reconnects == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not listening to the other nodes" in w for w in warnings)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
