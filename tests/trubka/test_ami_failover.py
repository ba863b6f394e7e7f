"""AMI fail-over between nodes on one PostgreSQL database, against the simulated PBX.

- The lease (`crm.node_leases`, `trubka.ami_failover`): one holder; a holder that stops
  renewing (frozen) loses it to a standby after its time-to-live, and its own fence
  closes before that; a clean stop hands it over at once.
- Two in-process nodes: only one logs in to AMI; stopping it makes the other consume;
  a call that starts before the switch and ends after it is stored once.
- A `trubka serve --roles ami` process holding the lease is killed with SIGKILL (and,
  in another test, frozen with SIGSTOP): the in-process standby consumes within 5 s,
  and every call, before, across and after the switch, has exactly one record.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crm.call_records import CallRow
from crm.node_leases import LeaseStore
from telephony.simpbx import SimPbx
from tests.kit_db import empty_pg_database
from tests.kit_server import free_port
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
from trubka.ami_failover import AmiLease
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
TAKEOVER_BUDGET = 5.0  # the promise: the standby consumes within 5 s


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> str:
    url = str(request.getfixturevalue("pg_database"))
    empty_pg_database(url)
    return url


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - state of other tasks and processes
            await asyncio.sleep(0.02)


def _consuming(services: Services) -> bool:
    lease = services.node.lease
    ami = services.ami
    return lease is not None and lease.valid() and ami is not None and ami.connected


def _logged_in(pbx: SimPbx) -> int:
    assert pbx.server is not None
    return sum(1 for session in pbx.server.sessions if session.logged_in)


async def _records(services: Services) -> dict[str, int]:
    async with services.db.session() as session:
        rows = await session.execute(
            select(CallRow.linkedid, func.count()).group_by(CallRow.linkedid)
        )
        return {linkedid: count for linkedid, count in rows.all()}


async def _stored(services: Services, linkedids: list[str], timeout: float = 15.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not set(linkedids) <= set(await _records(services)):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    except TimeoutError:
        found = await _records(services)
        raise AssertionError(
            f"not stored: {set(linkedids) - set(found)}; stored: {found}"
        ) from None


def _node(url: str, pbx: SimPbx, name: str, **extra: Any) -> Services:
    settings = load_settings(
        database_url=url,
        node_name=name,
        roles="ami",
        ami_enabled=True,
        ami_port=pbx.port,
        ami_user=USER,
        ami_secret=SECRET,
        ami_reconnect_max=0.5,
        **extra,
    )
    services: Services = build_app(settings).state.services
    return services


# --- the lease alone --------------------------------------------------------------------
async def test_one_holder_a_frozen_holder_loses_the_lease_and_fences_itself(
    pg_url: str,
) -> None:
    events: list[str] = []

    def lease(node: str) -> AmiLease:
        async def acquired() -> None:
            events.append(f"{node} acquired")

        async def lost() -> None:
            events.append(f"{node} lost")

        return AmiLease(
            LeaseStore(pg_url), node, ttl=1.0, interval=0.25, on_acquired=acquired, on_lost=lost
        )

    a, b = lease("a"), lease("b")
    try:
        await a.tick()
        await b.tick()
        assert (a.state, b.state) == ("holder", "standby")
        assert a.valid() and not b.valid()
        holder = await a.store.holder(a.name)
        assert holder is not None and holder.holder == "a" and not holder.expired
        # `a` freezes: it stops renewing. Its fence closes before the lease expires…
        frozen_at = time.monotonic()
        await _until(lambda: not a.valid(), timeout=2)
        fenced_after = time.monotonic() - frozen_at
        # …and `b`, claiming every interval, takes it once it has expired.
        while b.state != "holder":
            await b.tick()
            assert not (a.valid() and b.valid())
            await asyncio.sleep(b.interval)
        taken_after = time.monotonic() - frozen_at
        assert fenced_after < taken_after
        assert 0.9 <= taken_after <= 1.0 + 2 * b.interval
        # `a` thaws: its next claim fails, it stops consuming.
        await a.tick()
        assert a.state == "standby" and not a.valid()
        assert events == ["a acquired", "b acquired", "a lost"]
        # A clean stop hands the lease over at the next claim, without waiting for expiry.
        await b.stop()
        await a.tick()
        assert a.state == "holder"
        assert events[-2:] == ["b lost", "a acquired"]
    finally:
        await a.stop()
        await b.stop()


# --- two nodes in one process ---------------------------------------------------------------
async def test_one_node_consumes_ami_and_the_other_takes_over_when_it_stops(
    pg_url: str,
) -> None:
    async with running() as pbx:
        first = _node(pg_url, pbx, "node-a", ami_lease_ttl=1.0, ami_lease_interval=0.25)
        second = _node(pg_url, pbx, "node-b", ami_lease_ttl=1.0, ami_lease_interval=0.25)
        await first.start()
        try:
            await _until(lambda: _consuming(first))
            await second.start()
            await _until(
                lambda: second.node.lease is not None and second.node.lease.state == "standby"
            )
            assert _logged_in(pbx) == 1 and not _consuming(second)
            assert second.ami is not None and not second.ami.connected

            before = await _call(pbx, "79160000001", "101")
            await _stored(first, [before])
            # A call that starts on the first node's watch and ends on the second's.
            across = pbx.place_call("79160000002", "Пётр", answered_by="102", talk_time=1.5)
            await _until(lambda: any(c.answered_at is not None for c in first.live.calls.values()))
            stopped_at = time.monotonic()
            await first.stop()
            await _until(lambda: _consuming(second), timeout=TAKEOVER_BUDGET)
            assert time.monotonic() - stopped_at < TAKEOVER_BUDGET
            assert across.task is not None
            await across.task
            after = await _call(pbx, "79160000003", "103")
            await _stored(second, [before, across.linkedid, after])
            assert _logged_in(pbx) == 1
            records = await _records(second)
            assert records == {before: 1, across.linkedid: 1, after: 1}
        finally:
            await second.stop()
            await first.stop()


async def _call(pbx: SimPbx, number: str, agent: str) -> str:
    call = pbx.place_call(number, "Иван Петров", answered_by=agent, talk_time=0.2)
    assert call.task is not None
    await call.task
    return call.linkedid


# --- a real process killed or frozen ----------------------------------------------------------
class NodeProcess:
    """`python -m trubka serve --roles ami` as a process of its own."""

    def __init__(self, url: str, pbx: SimPbx, name: str, cwd: Path, books: dict[str, Any]) -> None:
        self.http_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRUBKA_")}
        env.update(
            PYTHONPATH=str(ROOT),
            TRUBKA_DATABASE_URL=url,
            TRUBKA_NODE_NAME=name,
            TRUBKA_AMI_ENABLED="true",
            TRUBKA_AMI_PORT=str(pbx.port),
            TRUBKA_AMI_USER=USER,
            TRUBKA_AMI_SECRET=SECRET,
            TRUBKA_AGI_ENABLED="false",
            TRUBKA_HTTP_PORT=str(self.http_port),
            TRUBKA_LOG_LEVEL="WARNING",
        )
        env.update({f"TRUBKA_{key.upper()}": str(value) for key, value in books.items()})
        self.log = cwd / f"{name}.log"
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trubka", "serve", "--roles", "ami"],
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(f"http://127.0.0.1:{self.http_port}/readyz")
            body: dict[str, Any] = response.json()
            return body

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait(10)
        self._log.close()


def _books(folder: Path) -> dict[str, Any]:
    """Both nodes read the books the simulated PBX writes (a shared mount in production)."""
    return {
        "asterisk_queue_log": folder / "queue_log",
        "asterisk_cdr": folder / "Master.csv",
        "asterisk_cdr_timezone": "UTC",
        "backfill_interval": 1.0,
        "backfill_settle": 2.0,  # the books stamp whole seconds
    }


@pytest.fixture
async def world(pg_url: str, tmp_path: Path) -> AsyncIterator[tuple[SimPbx, NodeProcess, Services]]:
    config = sim_config(queue_log_path=tmp_path / "queue_log", cdr_csv_path=tmp_path / "Master.csv")
    async with running(config) as pbx:
        proc = NodeProcess(pg_url, pbx, "proc-a", tmp_path, _books(tmp_path))
        standby = _node(pg_url, pbx, "inproc-b", **_books(tmp_path))
        store = LeaseStore(pg_url)
        try:

            async def holder() -> str | None:
                found = await store.holder("ami:default")
                return None if found is None or found.expired else found.holder

            async with asyncio.timeout(60):
                while await holder() != "proc-a":
                    assert proc.process.poll() is None, proc.log.read_text()
                    await asyncio.sleep(0.1)
            await standby.start()
            await _until(
                lambda: standby.node.lease is not None and standby.node.lease.state == "standby"
            )
            await _until(lambda: _logged_in(pbx) == 1)
            yield pbx, proc, standby
        finally:
            proc.close()
            await standby.stop()
            await store.dispose()


async def test_kill_9_of_the_ami_holder_mid_call_standby_consumes_within_5s_one_record_each(
    world: tuple[SimPbx, NodeProcess, Services],
) -> None:
    pbx, proc, standby = world
    before = await _call(pbx, "79160000011", "101")
    await _stored(standby, [before])  # stored by the process
    # One call goes on past the switch; another starts and ends in the gap.
    across = pbx.place_call("79160000012", "Пётр", answered_by="102", talk_time=7.0)
    await asyncio.sleep(0.3)  # answered by now (answer delay 0.04 s)
    killed_at = time.monotonic()
    proc.process.kill()
    gap = await _call(pbx, "79160000014", "101")
    assert not _consuming(standby)  # it ended while nobody consumed AMI
    await _until(lambda: _consuming(standby), timeout=TAKEOVER_BUDGET + 1)
    took = time.monotonic() - killed_at
    assert took <= TAKEOVER_BUDGET, f"the standby consumed {took:.2f}s after the kill"
    assert across.task is not None
    await across.task
    after = await _call(pbx, "79160000013", "103")
    await _stored(standby, [before, across.linkedid, gap, after])
    rows = [
        (r.linkedid, r.source, r.caller_number, r.disposition, r.ended_during_outage)
        for r in await standby.calls.list()
    ]
    assert await _records(standby) == {before: 1, across.linkedid: 1, gap: 1, after: 1}, (
        rows,
        before,
        across.linkedid,
        gap,
        after,
    )
    sources = {row.linkedid: row.source for row in await standby.calls.list()}
    assert sources[gap] == "backfill"  # from Asterisk's books
    assert sources[across.linkedid] == sources[after] == "ami"


async def test_a_frozen_holder_is_replaced_and_stands_by_when_it_thaws(
    world: tuple[SimPbx, NodeProcess, Services],
) -> None:
    pbx, proc, standby = world
    before = await _call(pbx, "79160000021", "101")
    await _stored(standby, [before])
    proc.process.send_signal(signal.SIGSTOP)
    frozen_at = time.monotonic()
    await _until(lambda: _consuming(standby), timeout=TAKEOVER_BUDGET + 1)
    assert time.monotonic() - frozen_at <= TAKEOVER_BUDGET
    during = await _call(pbx, "79160000022", "102")
    await _stored(standby, [during])
    proc.process.send_signal(signal.SIGCONT)  # it thaws with AMI events in its socket
    async with asyncio.timeout(10):
        while True:
            try:
                state = await proc.ready()
            except httpx.HTTPError:
                state = {}
            if state.get("checks", {}).get("ami") == "standby":
                break
            await asyncio.sleep(0.1)
    after = await _call(pbx, "79160000023", "103")
    await _stored(standby, [before, during, after])
    await asyncio.sleep(0.5)  # whatever the thawed node might still write
    assert await _records(standby) == {before: 1, during: 1, after: 1}
    assert _consuming(standby)
    assert "Traceback" not in proc.log.read_text()
