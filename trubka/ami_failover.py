"""AMI consumer fail-over: on PostgreSQL, exactly one node consumes a PBX's AMI at a time.

Every node with the `ami` role runs an :class:`AmiLease` for the PBX (lease
`ami:<pbx>` in `node_leases`, `crm/node_leases.py`). Every `interval` seconds (1 s) it
claims the lease: the holder renews it for `ttl` seconds (3 s), a standby takes it only
once it has expired. Holding it, the node starts its AMI client (which logs in and
resynchronises the live picture from Asterisk, then wakes the backfill from Asterisk's
books when one is configured); losing it, the node stops the client.

Why a lease row and not a session advisory lock: an advisory lock lives as long as its
TCP connection, and a frozen process (SIGSTOP, a stuck event loop, a VM paused) keeps
its connection: the kernel still answers keepalives, so the lock would never pass to
the standby. A lease expires unless renewed, whatever the connection does; a frozen,
killed or cut-off holder loses it `ttl` seconds after its last renewal, and the standby,
claiming every `interval`, takes over at most `ttl + interval` seconds later.

The holder fences itself: it counts its lease as held only until `ttl - interval/2`
seconds after it *sent* its last successful renewal (the database's expiry is later
than that), and drops the AMI client's events past that moment even before the renewal
loop runs again (a process that thaws after a freeze). So the old holder stops
publishing before the new one may start. Call records stay exactly-once regardless:
their writes are idempotent by linkedid (`crm.call_records.CallStore.insert`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from crm.node_leases import LeaseStore
from kernel.task_set import TaskSet

log = logging.getLogger(__name__)

E = TypeVar("E")
LeaseState = Literal["starting", "holder", "standby", "unknown", "stopped"]


class AmiLease:
    def __init__(
        self,
        store: LeaseStore,
        node: str,
        *,
        pbx: str = "default",
        ttl: float = 3.0,
        interval: float = 1.0,
        on_acquired: Callable[[], Awaitable[None]],
        on_lost: Callable[[], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.node = node
        self.name = f"ami:{pbx}"
        self.pbx = pbx
        self.ttl = ttl
        self.interval = interval
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.clock = clock
        self.state: LeaseState = "starting"
        self.held = False
        self.valid_until = float("-inf")
        self.acquisitions = 0  # how many times this node took the lease
        self.losses = 0
        self.last_error: str | None = None
        self._tasks = TaskSet(f"lease-{self.name}")
        self._error_logged = False

    # --- the fence -----------------------------------------------------------------------
    def valid(self) -> bool:
        """True while this node may consume: it holds the lease and it cannot have expired."""
        return self.held and self.clock() < self.valid_until

    def fence(self, publish: Callable[[Iterable[E]], None]) -> Callable[[Iterable[E]], None]:
        """`publish` that drops events while the lease is not valid (a thawed old holder)."""

        def fenced(events: Iterable[E]) -> None:
            if self.valid():
                publish(events)

        return fenced

    # --- running -------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks.start(self.run(), name=f"lease-{self.name}")

    async def stop(self) -> None:
        """Stop claiming; give the lease up so a standby takes over at its next claim."""
        await self._tasks.stop(grace=1.0)
        if self.held:
            await self._lose("this node is stopping")
            try:
                async with asyncio.timeout(self.interval):
                    await self.store.release(self.name, self.node)
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.warning("AMI lease %s: not released (%s); it expires by itself", self.name, exc)
        self.state = "stopped"
        await self.store.dispose()

    async def run(self) -> None:
        while True:
            await self.tick()
            wait = self.interval
            if self.held:  # wake at the fence if renewing keeps failing
                wait = max(0.0, min(wait, self.valid_until - self.clock()))
            await asyncio.sleep(wait)

    async def tick(self) -> None:
        """One claim (renewal or take-over) and what follows from its answer."""
        sent = self.clock()
        try:
            async with asyncio.timeout(self.interval):
                holds = await self.store.claim(self.name, self.node, self.ttl)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if not self._error_logged:
                log.warning("AMI lease %s: the database did not answer: %s", self.name, exc)
                self._error_logged = True
            if not self.held:
                self.state = "unknown"
            elif not self.valid():
                await self._lose("the lease could not be renewed in time")
            return
        if self._error_logged:
            log.info("AMI lease %s: the database answers again", self.name)
            self._error_logged = False
        self.last_error = None
        if holds:
            self.valid_until = sent + self.ttl - self.interval / 2
            if not self.held:
                self.held = True
                self.state = "holder"
                self.acquisitions += 1
                log.info("AMI lease %s taken by node %s: consuming AMI", self.name, self.node)
                await self.on_acquired()
        elif self.held:
            await self._lose("another node holds the lease")
        else:
            self.state = "standby"

    async def _lose(self, why: str) -> None:
        self.held = False
        self.valid_until = float("-inf")
        self.state = "standby"
        self.losses += 1
        log.warning("AMI lease %s lost by node %s (%s): AMI stopped", self.name, self.node, why)
        await self.on_lost()

    def status_json(self) -> dict[str, object]:
        return {
            "lease": self.name,
            "state": self.state,
            "held": self.valid(),
            "acquisitions": self.acquisitions,
            "losses": self.losses,
            "last_error": self.last_error,
        }
