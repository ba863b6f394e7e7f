"""The transport between nodes: PostgreSQL LISTEN/NOTIFY with bodies too large for a
payload stored in `cluster_messages`, packing, order, and a listener that comes back
after its connection is cut."""

from __future__ import annotations

import asyncio
import contextlib
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


class RecordingConnection:
    """The sender's connection, recording the payloads notified (no database)."""

    def __init__(self, on_notify: Callable[[str], None] = lambda _p: None) -> None:
        self.payloads: list[str] = []
        self.stored: dict[int, str] = {}
        self.on_notify = on_notify
        self.notified = asyncio.Event()
        self.statements: list[int] = []  # payloads per NOTIFY statement

    async def fetchval(self, _sql: str, body: str) -> int:
        self.stored[len(self.stored) + 1] = body
        return len(self.stored)

    async def execute(self, sql: str, *args: Any) -> None:
        if "pg_notify" in sql:  # one payload, or a list of them in one statement
            self.statements.append(len(args[1]) if isinstance(args[1], list) else 1)
            for payload in args[1] if isinstance(args[1], list) else [args[1]]:
                self.payloads.append(str(payload))
                self.notified.set()
                self.on_notify(str(payload))

    def envelopes(self) -> list[tuple[str, dict[str, Any]]]:
        """("main" or "followers", envelope) in the order they were notified."""
        out = []
        for payload in self.payloads:
            body = payload.partition("|")[2]
            lane = "followers" if body.startswith("~") else "main"
            body = body.removeprefix("~")
            if body.startswith("@"):
                body = self.stored[int(body[1:])]
            out += [(lane, e) for e in json.loads(body)]
        return out


async def sent_until(bridge: PgBridge, conn: RecordingConnection, count: int) -> None:
    task = asyncio.create_task(bridge._send_on(conn))
    try:
        async with asyncio.timeout(5):
            while len(conn.envelopes()) < count:
                conn.notified.clear()
                await conn.notified.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def live_update(n: int, agents: int) -> str:
    doc = {
        "type": "live_update",
        "seq": n,
        "agents": [{"interface": f"PJSIP/{i}"} for i in range(agents)],
    }
    return json.dumps({"k": "f", "x": [], "m": doc})


async def test_pops_go_out_before_the_followers_traffic_queued_earlier() -> None:
    bridge = PgBridge("postgresql://unused", "node-a", lambda _e: None)
    for n in range(5):  # the live view of a thousand agents: stored bodies
        bridge.send_followers(live_update(n, 1000))
    pops = [json.dumps({"k": "u", "u": [n], "m": {"type": "screen_pop", "n": n}}) for n in range(3)]
    for pop in pops:
        bridge.send(pop)
    conn = RecordingConnection()
    await sent_until(bridge, conn, 8)
    got = conn.envelopes()
    assert [lane for lane, _e in got] == ["main"] * 3 + ["followers"] * 5
    assert [e for _lane, e in got[:3]] == [json.loads(p) for p in pops]
    assert [e["m"]["seq"] for _lane, e in got[3:]] == [0, 1, 2, 3, 4]  # in order
    assert len(conn.stored) == 5 and all(p.startswith("node-a|~@") for p in conn.payloads[1:])


async def test_a_pop_queued_while_the_live_view_goes_out_overtakes_the_rest_of_it() -> None:
    bridge = PgBridge("postgresql://unused", "node-a", lambda _e: None)
    for n in range(4):
        bridge.send_followers(live_update(n, 1000))
    pop = {"k": "u", "u": [7], "m": {"type": "screen_pop"}}

    def pop_arrives(payload: str) -> None:
        if (
            payload.startswith("node-a|~")
            and not bridge._outbox.qsize()
            and len(conn.payloads) == 1
        ):
            bridge.send(json.dumps(pop))  # the AMI read a ring meanwhile

    conn = RecordingConnection(pop_arrives)
    await sent_until(bridge, conn, 5)
    got = conn.envelopes()
    assert got[1] == ("main", pop)  # right after the payload being sent, not after all four
    assert [e["m"]["seq"] for lane, e in got if lane == "followers"] == [0, 1, 2, 3]


async def test_a_burst_on_the_main_lane_goes_out_in_one_statement() -> None:
    bridge = PgBridge("postgresql://unused", "node-a", lambda _e: None)
    pops = [
        json.dumps({"k": "u", "u": [n], "m": {"type": "screen_pop", "pad": "x" * 2000}})
        for n in range(12)
    ]
    for pop in pops:
        bridge.send(pop)
    conn = RecordingConnection()
    await sent_until(bridge, conn, 12)
    assert [e for _lane, e in conn.envelopes()] == [json.loads(p) for p in pops]
    assert len(conn.payloads) > 1 and conn.statements == [len(conn.payloads)]


async def test_a_payload_repeated_in_a_burst_goes_out_in_a_statement_of_its_own() -> None:
    """PostgreSQL delivers a payload repeated within one transaction once."""
    bridge = PgBridge("postgresql://unused", "node-a", lambda _e: None)
    same = json.dumps({"k": "u", "u": [1], "m": {"pad": "x" * 5000}})
    other = json.dumps({"k": "u", "u": [2], "m": {"pad": "y" * 5000}})
    for envelope in (same, same, other):
        bridge.send(envelope)
    conn = RecordingConnection()
    await sent_until(bridge, conn, 3)
    assert len(conn.payloads) == 3 and conn.payloads[0] == conn.payloads[1]
    assert conn.statements == [1, 2]


def test_packing_leaves_room_for_the_followers_marker() -> None:
    bridge = PgBridge("postgresql://unused", "node-a", lambda _e: None)
    envelopes = [
        json.dumps({"k": "f", "x": [], "m": {"n": n, "pad": "x" * 500}}) for n in range(60)
    ]
    bodies = bridge.pack(envelopes, marker="~")
    assert all(len(f"node-a|~{b}".encode()) <= PAYLOAD_LIMIT for b in bodies)
    assert [e for b in bodies for e in json.loads(b)] == [json.loads(e) for e in envelopes]
    assert len(bodies) > 1  # split at the limit


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_both_lanes_arrive_complete_and_each_in_order(pair: tuple[Node, Node]) -> None:
    a, b = pair
    main, followers = [], []
    for n in range(200):
        if n % 20 == 3:  # a whole picture now and then: a stored body
            followers.append(json.loads(live_update(n, 800)))
            a.bridge.send_followers(json.dumps(followers[-1]))
        elif n % 2:
            followers.append({"k": "f", "x": [1], "m": {"type": "screen_pop", "n": n}})
            a.bridge.send_followers(json.dumps(followers[-1]))
        else:
            main.append({"k": "u", "u": [n], "m": {"type": "screen_pop", "n": n}})
            a.bridge.send(json.dumps(main[-1]))
    await b.wait_for(200)
    assert [e for e in b.got if e["k"] == "u"] == main
    assert [e for e in b.got if e["k"] == "f"] == followers
    # the sender counts a batch once its last NOTIFY has returned, which may be after
    # node B has read it
    async with asyncio.timeout(10):
        while a.bridge.stats.sent < 200:  # noqa: ASYNC110 - a counter, no event to await
            await asyncio.sleep(0.01)
    assert a.bridge.stats.stored == 10 and a.bridge.stats.sent == 200
