"""PostgreSQL LISTEN/NOTIFY between the nodes of a cluster: the transport.

Each node holds two dedicated asyncpg connections to the database: one LISTENs on the
channel (`trubka_live`) and one sends. A NOTIFY payload is `<node>|<body>`, where
`<body>` is a JSON array of envelopes (what :mod:`trubka.cluster.node` sends: a message
for some users' sockets, for the supervisors' sockets, a socket close, a request to
resynchronise) or `@<id>`: an array too large for a payload (PostgreSQL refuses 8000
bytes and more) is stored in `cluster_messages` and only its id is notified. Envelopes
queued together go out packed into as few payloads as fit, in order, and the main
lane's payloads in one statement, so a burst of pops costs one round trip to the
database. A node skips its own payloads.

Two lanes, so that the supervisors' traffic never holds up an agent's pop:

* the **main** lane (:meth:`PgBridge.send`): agents' pops, answers, states, socket
  closes, the whole picture, PBX actions;
* the **followers'** lane (:meth:`PgBridge.send_followers`, its bodies marked `~`:
  `<node>|~<body>`): what the supervisors' sockets get — the live view's `live_update`
  (a full picture of a thousand agents is a stored body) and their copies of pops.

The sender sends everything waiting on the main lane before the followers' lane, and
looks at the main lane again between two followers' payloads. The receiver handles each
lane in its own task, in the order its payloads came (a pop before its withdrawal), a
stored body fetched (on the lane's own connection) before the lane's next payload: a
followers' body being fetched or merged does not delay a pop behind it.

Connections are lost (a database restart, a network cut): the listener notices within
`keepalive` seconds, logs a warning, connects again with a backoff from
`backoff_initial` up to `backoff_max` and logs when it listens again; `on_joined` is
called after every (re)connect so the node can ask for the whole picture. The sender
drops what it could not send (live messages are worth nothing late), logs it once per
outage and calls `on_gap` once it can send again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "trubka_live"
PAYLOAD_LIMIT = 7800  # bytes of a NOTIFY payload we send (PostgreSQL's limit: < 8000)
OUTBOX_SIZE = 100_000  # envelopes waiting to be sent before new ones are dropped
KEEP_BODIES = 300.0  # seconds a stored body stays in `cluster_messages`
BATCH = 500  # envelopes taken from the outbox at once

Connect = Callable[[str], Awaitable[Any]]
Handler = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class BridgeStats:
    sent: int = 0  # envelopes sent
    notifies: int = 0  # NOTIFY statements
    stored: int = 0  # bodies stored in cluster_messages
    received: int = 0  # envelopes received from other nodes
    dropped: int = 0  # envelopes not sent (outbox full, database away)
    reconnects: int = 0


async def _asyncpg_connect(dsn: str) -> Any:
    import asyncpg  # type: ignore[import-untyped]

    return await asyncpg.connect(dsn, timeout=10)


class _Lane:
    """One lane's received payloads, handled in order by one task, and the connection
    that fetches its stored bodies."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.reader: Any = None


class PgBridge:
    def __init__(
        self,
        dsn: str,
        node: str,
        handler: Handler,
        *,
        channel: str = CHANNEL,
        on_joined: Callable[[], None] | None = None,
        on_gap: Callable[[], None] | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        keepalive: float = 5.0,
        connect: Connect = _asyncpg_connect,
    ) -> None:
        self.dsn = dsn
        self.node = node
        self.handler = handler
        self.channel = channel
        self.on_joined = on_joined
        self.on_gap = on_gap
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.keepalive = keepalive
        self.connect = connect
        self.stats = BridgeStats()
        self.listening = asyncio.Event()
        self._outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_SIZE)  # the main lane
        self._followers: asyncio.Queue[str] = asyncio.Queue(OUTBOX_SIZE)  # the followers'
        self._waiting = asyncio.Event()  # something was queued on either lane
        self._main = _Lane()
        self._followers_lane = _Lane()
        self._prefix = f"{node}|"
        self._full_warned = False
        self.listener_pid: int | None = None  # the listening connection's backend

    # --- sending ---------------------------------------------------------------------
    def send(self, envelope: str) -> None:
        """Queue one envelope (JSON text) for the other nodes; never waits."""
        self._queue(self._outbox, envelope)

    def send_followers(self, envelope: str) -> None:
        """Queue one envelope for the supervisors' sockets of the other nodes (the
        followers' lane: sent after what waits on the main lane)."""
        self._queue(self._followers, envelope)

    def _queue(self, outbox: asyncio.Queue[str], envelope: str) -> None:
        try:
            outbox.put_nowait(envelope)
            self._full_warned = False
            self._waiting.set()
        except asyncio.QueueFull:
            self.stats.dropped += 1
            if not self._full_warned:
                self._full_warned = True
                log.warning("cluster: the outbox is full, live messages are dropped")

    def pack(self, envelopes: list[str], *, marker: str = "") -> list[str]:
        """The bodies to notify: JSON arrays each fitting a payload, in order (one
        envelope too large for a payload is a body of its own, to be stored); `marker`
        (the followers' lane's `~`) is left room for."""
        limit = PAYLOAD_LIMIT - len(self._prefix.encode()) - len(marker) - 2
        bodies: list[str] = []
        chunk: list[str] = []
        size = 0
        for envelope in envelopes:
            length = len(envelope.encode()) + 1
            if chunk and size + length > limit:
                bodies.append("[" + ",".join(chunk) + "]")
                chunk, size = [], 0
            chunk.append(envelope)
            size += length
        if chunk:
            bodies.append("[" + ",".join(chunk) + "]")
        return bodies

    async def _send_forever(self) -> None:
        delay = self.backoff_initial
        lost = False
        while True:
            try:
                conn = await self.connect(self.dsn)
            except Exception as exc:
                log.warning("cluster: cannot connect to send (retrying in %.1fs): %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            delay = self.backoff_initial
            if lost:
                lost = False
                log.info("cluster: sending again")
                if self.on_gap is not None:
                    self.on_gap()
            try:
                # A NOTIFY is delivered once its transaction commits; a synchronous commit
                # first waits for the WAL to reach the disk, behind the other sessions'
                # flushes (some 10 ms at the tail under 50 calls/s). Nothing this
                # connection writes (notifications, bodies kept 5 minutes) is worth that.
                await conn.execute("SET synchronous_commit TO off")
                await self._send_on(conn)
            except asyncio.CancelledError:
                await _close(conn)
                raise
            except Exception as exc:
                lost = True
                log.warning("cluster: sending failed, live messages were lost: %s", exc)
                await _close(conn)

    async def _send_on(self, conn: Any) -> None:
        cleaned = asyncio.get_running_loop().time()
        while True:
            if self._outbox.empty() and self._followers.empty():
                self._waiting.clear()
                await self._waiting.wait()
            if not self._outbox.empty():
                await self._send_lane(conn, self._outbox, "")
                continue  # the main lane until it is empty
            await self._send_lane(conn, self._followers, "~")
            now = asyncio.get_running_loop().time()
            if now - cleaned > KEEP_BODIES / 5:
                cleaned = now
                await conn.execute(
                    "DELETE FROM cluster_messages"
                    " WHERE created_at < now() - make_interval(secs => $1)",
                    KEEP_BODIES,
                )

    async def _send_lane(self, conn: Any, outbox: asyncio.Queue[str], marker: str) -> None:
        """Send a batch of one lane's envelopes. The main lane's payloads go out in one
        statement (a burst costs one round trip to the database, not one per payload);
        the followers' one at a time, with what came meanwhile on the main lane first
        between two."""
        envelopes = _take(outbox, BATCH)
        try:
            bodies = self.pack(envelopes, marker=marker)
            if not marker:
                await self._notify(conn, marker, bodies)
            for body in bodies if marker else ():
                if not self._outbox.empty():
                    await self._send_lane(conn, self._outbox, "")
                await self._notify(conn, marker, [body])
        except Exception:
            self.stats.dropped += len(envelopes)
            raise
        self.stats.sent += len(envelopes)

    async def _notify(self, conn: Any, marker: str, bodies: list[str]) -> None:
        """Notify these bodies in order (those too large for a payload stored first), as
        few statements as PostgreSQL allows: one, unless two payloads are the same (it
        delivers a payload repeated within one transaction once)."""
        payloads: list[str] = []
        for body in bodies:
            payload = self._prefix + marker + body
            if len(payload.encode()) > PAYLOAD_LIMIT:
                row = await conn.fetchval(
                    "INSERT INTO cluster_messages (created_at, body)"
                    " VALUES (now(), $1) RETURNING id",
                    body,
                )
                payload = f"{self._prefix}{marker}@{row}"
                self.stats.stored += 1
            payloads.append(payload)
        for run in _distinct_runs(payloads):
            if len(run) == 1:
                await conn.execute("SELECT pg_notify($1, $2)", self.channel, run[0])
            else:
                await conn.execute(
                    "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", self.channel, run
                )
            self.stats.notifies += len(run)

    # --- listening -------------------------------------------------------------------
    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(self._prefix):
            return
        node, _, body = payload.partition("|")
        if body.startswith("~"):
            self._followers_lane.inbox.put_nowait(node + "|" + body[1:])
        else:
            self._main.inbox.put_nowait(payload)

    async def _listen_forever(self) -> None:
        delay = self.backoff_initial
        joined_before = False
        while True:
            conn = None
            try:
                conn = await self.connect(self.dsn)
                await conn.add_listener(self.channel, self._notified)
                self.listener_pid = conn.get_server_pid()
                if joined_before:
                    self.stats.reconnects += 1
                    log.info("cluster: listening again on %s", self.channel)
                joined_before = True
                delay = self.backoff_initial
                self._main.inbox.put_nowait("")  # handled in order: the joined callback
                self.listening.set()
                while True:
                    await asyncio.sleep(self.keepalive)
                    async with asyncio.timeout(self.keepalive):
                        await conn.fetchval("SELECT 1")
            except asyncio.CancelledError:
                if conn is not None:
                    await _close(conn)
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning(
                    "cluster: not listening to the other nodes (retrying in %.1fs): %s",
                    delay,
                    exc or type(exc).__name__,
                )
                if conn is not None:
                    await _close(conn)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)

    async def _receive_forever(self, lane: _Lane) -> None:
        try:
            while True:
                payload = await lane.inbox.get()
                if payload == "":
                    if self.on_joined is not None:
                        self.on_joined()
                    continue
                node, _, body = payload.partition("|")
                envelopes = await self._envelopes(lane, node, body)
                for envelope in envelopes:
                    self.stats.received += 1
                    try:
                        self.handler(envelope)
                    except Exception:
                        log.exception("cluster: handling a message from node %s failed", node)
        finally:
            if lane.reader is not None:
                await _close(lane.reader)
                lane.reader = None

    async def _envelopes(self, lane: _Lane, node: str, body: str) -> list[dict[str, Any]]:
        """The envelopes of a payload (a stored body fetched first); [] when lost."""
        try:
            if body.startswith("@"):
                if lane.reader is None:
                    lane.reader = await self.connect(self.dsn)
                stored = await lane.reader.fetchval(
                    "SELECT body FROM cluster_messages WHERE id = $1", int(body[1:])
                )
                if stored is None:
                    return []  # cleaned away: far too late to matter
                body = stored
            envelopes: list[dict[str, Any]] = json.loads(body)
        except Exception as exc:
            log.warning("cluster: a message from node %s was lost: %s", node, exc)
            if lane.reader is not None:
                await _close(lane.reader)
                lane.reader = None
            return []
        return envelopes

    async def run(self) -> None:
        """Listen, receive and send until cancelled (a tracked background task)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen_forever(), name="cluster-listen")
            group.create_task(self._receive_forever(self._main), name="cluster-receive")
            group.create_task(
                self._receive_forever(self._followers_lane), name="cluster-receive-followers"
            )
            group.create_task(self._send_forever(), name="cluster-send")


def _distinct_runs(payloads: list[str]) -> list[list[str]]:
    """`payloads` cut, in order, into runs without a repeated payload."""
    runs: list[list[str]] = []
    seen: set[str] = set()
    for payload in payloads:
        if not runs or payload in seen:
            runs.append([])
            seen = set()
        runs[-1].append(payload)
        seen.add(payload)
    return runs


def _take(outbox: asyncio.Queue[str], most: int) -> list[str]:
    """Up to `most` envelopes waiting in `outbox`, without waiting."""
    envelopes: list[str] = []
    while len(envelopes) < most:
        try:
            envelopes.append(outbox.get_nowait())
        except asyncio.QueueEmpty:
            break
    return envelopes


async def _close(conn: Any) -> None:
    try:
        async with asyncio.timeout(2.0):
            await conn.close()
    except Exception:  # the connection is gone already
        conn.terminate()
