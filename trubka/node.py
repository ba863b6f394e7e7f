"""This node among several: its name and roles, the single-node lock of SQLite, the AMI
lease of PostgreSQL, what `/healthz` and `/readyz` answer, and the drain on shutdown.

- `/healthz` (live): the process answers; always 200 while the event loop runs.
- `/readyz` (ready): 200 when the database answers within a second and every role the
  node runs is in order: `ami` connected to Asterisk, or standing by while another node
  holds the AMI lease; `agi` listening; 503 otherwise and while the node drains.
- The drain (`uvicorn` shutting down, `trubka.http_server.DrainingServer`): `/readyz`
  turns 503 so the load balancer sends no one new, every WebSocket gets
  `{"type": "reconnect"}` and is closed with 1012; the browsers reconnect, through
  the load balancer, to another node.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm.database import Database, is_sqlite
from crm.node_leases import LeaseStore
from kernel.task_set import TaskSet
from screenpop.hub import Hub
from telephony.agi_server import AgiServer
from telephony.ami_client import AmiClient
from trubka.ami_failover import AmiLease
from trubka.node_lock import SqliteNodeLock
from trubka.settings import Settings

E = TypeVar("E")
RECONNECT = {"type": "reconnect", "reason": "node_shutdown"}
DB_CHECK_TIMEOUT = 1.0


def node_name(settings: Settings) -> str:
    """TRUBKA_NODE_NAME, else host:pid-random (unique among the nodes sharing a
    database, and among several services started by one process)."""
    own = settings.node_name.strip()
    return own or f"{socket.gethostname()}:{os.getpid()}-{secrets.token_hex(2)}"


class Node:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        hub: Hub,
        agi: AgiServer,
        ami: Callable[[], AmiClient | None],
    ) -> None:
        self.settings = settings
        self.name = node_name(settings)
        self.roles = settings.roles
        self.db = db
        self.hub = hub
        self.agi = agi
        self._ami = ami
        self.lock = SqliteNodeLock(settings.database_url) if is_sqlite(db.url) else None
        self.lease: AmiLease | None = None  # PostgreSQL nodes with the `ami` role
        self.started_at = time.time()
        self.draining = False
        # What runs only while this node consumes AMI (the backfill from Asterisk's books)
        self._jobs: list[tuple[str, Callable[[], Coroutine[Any, Any, Any]]]] = []
        self._job_tasks = TaskSet("consuming")

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def runs_ami(self) -> bool:
        return self.has("ami") and self.settings.ami_enabled

    @property
    def runs_agi(self) -> bool:
        return self.has("agi") and self.settings.agi_enabled

    # --- start and stop ------------------------------------------------------------------
    def claim(self) -> None:
        """Before anything starts: refuse a second node on one SQLite file (NodeRefused)."""
        if self.lock is not None:
            self.lock.acquire()

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def fence_ami(self, publish: Callable[[Iterable[E]], None]) -> Callable[[Iterable[E]], None]:
        """On PostgreSQL, the AMI client runs only while this node holds the AMI lease
        (`trubka.ami_failover`): make the lease and fence the client's `publish` by it."""
        if self.lock is not None:  # SQLite: the only node, it consumes as it always did
            return publish

        async def acquired() -> None:
            ami = self._ami()
            if ami is not None:
                await ami.start()
            for name, job in self._jobs:
                self._job_tasks.start(job(), name=name)

        async def lost() -> None:
            await self._job_tasks.stop(grace=1.0)
            ami = self._ami()
            if ami is not None:
                await ami.stop()

        self.lease = AmiLease(
            LeaseStore(self.settings.database_url),
            self.name,
            ttl=self.settings.ami_lease_ttl,
            interval=self.settings.ami_lease_interval,
            on_acquired=acquired,
            on_lost=lost,
        )
        return self.lease.fence(publish)

    def while_consuming(
        self, tasks: TaskSet, name: str, job: Callable[[], Coroutine[Any, Any, Any]]
    ) -> None:
        """Run `job` while this node consumes AMI: from now on SQLite, while it holds the
        AMI lease on PostgreSQL (a standby must not backfill what the holder follows)."""
        if self.lease is None:
            tasks.start(job(), name=name)
        else:
            self._jobs.append((name, job))

    async def start_ami(self) -> None:
        """Consume AMI: at once on SQLite, once the lease is taken on PostgreSQL."""
        if self.lease is not None:
            self.lease.start()
        elif (ami := self._ami()) is not None:
            await ami.start()

    async def stop_ami(self) -> None:
        if self.lease is not None:
            await self.lease.stop()  # stops the AMI client when held, gives the lease up
            await self._job_tasks.stop(grace=1.0)
        if (ami := self._ami()) is not None:
            await ami.stop()

    async def drain(self, grace: float = 1.0) -> int:
        """Not ready any more; tell every socket to reconnect elsewhere, close them."""
        self.draining = True
        return await self.hub.drain(RECONNECT, grace=grace)

    # --- health ----------------------------------------------------------------------------
    def ami_state(self) -> str:
        """`connected`, `standby` (another node consumes), `connecting`, or `off`."""
        ami = self._ami()
        if ami is None:
            return "off"
        lease = self.lease
        if lease is not None and not lease.valid():
            return "standby" if lease.state == "standby" else "connecting"
        return "connected" if ami.connected else "connecting"

    def liveness(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "node": self.name,
            "roles": sorted(self.roles),
            "uptime_seconds": round(time.time() - self.started_at, 3),
        }

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, str] = {"database": await self._database()}
        ready = checks["database"] == "ok"
        if self.runs_ami:
            checks["ami"] = self.ami_state()
            ready = ready and checks["ami"] in ("connected", "standby")
        if self.runs_agi:
            checks["agi"] = "listening" if self.agi.listening else "not_listening"
            ready = ready and self.agi.listening
        if self.draining:
            ready = False
        body: dict[str, Any] = {
            "status": "ready" if ready else ("draining" if self.draining else "not_ready"),
            "node": self.name,
            "roles": sorted(self.roles),
            "checks": checks,
        }
        if self.lease is not None:
            body["ami_lease"] = self.lease.status_json()
        return ready, body

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(DB_CHECK_TIMEOUT):
                async with self.db.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except TimeoutError:
            return "timeout"
        except (SQLAlchemyError, OSError) as exc:
            return f"error: {type(exc).__name__}"
        return "ok"
