"""Benchmark: routing decisions over FastAGI with the CRM's database facts, next to a bare
FastAGI server.

The routing server is the app's own composition (`trubka.wiring.Services`: the CRM's
database-backed facts source, the call router, the FastAGI server) on a database seeded
through `crm.seed`'s bulk path — N contacts with owners and tags, M call records with
agents — and the live agent state of trace 02 (agents 101-103 free; 104-110 logged out).
The bare server only reads the environment and sends the same number of
``SET VARIABLE`` commands (seven, as for a routed known caller). Each server runs in its
own process pinned to one core, on uvloop (as `trubka serve` runs); the clients run in
another process: 50 concurrent clients speak raw FastAGI over TCP, as Asterisk does,
with a caller mix of 70 % known contacts (7…, 8… and +7… caller IDs), 20 % unknown
numbers, 10 % anonymous.

Measured per server: decisions per second with the clients going flat out (and the
server's CPU time per call), and the latency from connect to the last ``SET VARIABLE``
(p50/p99) flat out and at a steady offered load (default 2,000 calls/s). Targets:
p99 ≤ 2 ms and ≥ 2,000 decisions/s on one core, p99 ≤ 2× the bare server's; the facts
deadline (`TRUBKA_ROUTING_FACTS_TIMEOUT`, 300 ms) is never waited out — the number of
timeouts is printed.

    python bench/routing_agi.py                  # 100,000 contacts / 1,000,000 calls
    python bench/routing_agi.py --full --db var/bench/routing-1m.db
    python bench/routing_agi.py --postgres postgresql://user:pw@host/empty_db
    python bench/routing_agi.py --source memory  # in-memory facts (no database)

The seeded SQLite file is reused when it already holds the asked-for contacts (default
`var/bench/routing-agi-<contacts>.db`). The machine may be shared: the load average is
printed next to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KNOWN_PREFIX = "7916"  # in-memory contacts: 7916 + 7 digits
UNKNOWN_PREFIX = "7965"  # a code seeded contacts never get
BARE_COMMANDS = 7

ENV_TEMPLATE = (
    "".join(
        f"{name}: {value}\n"
        for name, value in [
            ("agi_network", "yes"),
            ("agi_network_script", "route"),
            ("agi_request", "agi://127.0.0.1:4573/route"),
            ("agi_channel", "Local/{num}@from-trunk-00000007;2"),
            ("agi_language", "en"),
            ("agi_type", "Local"),
            ("agi_uniqueid", "{uid}"),
            ("agi_version", "22.10.1"),
            ("agi_callerid", "{num}"),
            ("agi_calleridname", "Customer {num}"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", "from-trunk-trubka"),
            ("agi_extension", "74951110000"),
            ("agi_priority", "8"),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", "139658247489216"),
            ("agi_arg_1", "74951110000"),
        ]
    )
    + "\n"
)


@dataclass(frozen=True)
class Spec:
    """What the routing server is built on (sent to its process)."""

    source: str  # "db" | "memory"
    database_url: str
    contacts: int
    loop: str  # "uvloop" | "asyncio"
    profile: str | None = None  # write the flat-out phase's cProfile stats here


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def _run(main: Callable[[], Any], loop: str) -> Any:
    """Run `main()` on the loop `trubka serve` uses (`trubka.eventloop`), or asyncio's."""
    from trubka.eventloop import run

    return run(main, "uvloop" if loop == "uvloop" else "asyncio")


# --- the database ------------------------------------------------------------------------


def prepare_database(url: str, contacts: int, calls: int) -> tuple[int, int]:
    """Migrate, and seed unless the database already holds `contacts` contacts.

    Returns the (first, last) contact id."""
    from sqlalchemy import func, select, text

    from crm.database import Database, upgrade
    from crm.models import Contact
    from crm.seed import seed

    upgrade(url)

    async def run() -> tuple[int, int]:
        db = Database(url)
        try:
            async with db.session() as session:
                have = int(await session.scalar(select(func.count(Contact.id))) or 0)
                have_calls = int(await session.scalar(text("SELECT COUNT(*) FROM calls")) or 0)
            if have < contacts:
                print(f"seeding {contacts:,} contacts and {calls:,} calls (once; reused later) …")
                started = time.perf_counter()
                last = [started]

                def progress(kind: str, count: int) -> None:
                    if time.perf_counter() - last[0] > 30:
                        last[0] = time.perf_counter()
                        print(f"  … {kind} +{count:,}", flush=True)

                await seed(db, contacts=contacts - have, calls=calls, rng_seed=1, progress=progress)
                print(f"seeded in {time.perf_counter() - started:.0f} s")
                async with db.session() as session:
                    have_calls = int(await session.scalar(text("SELECT COUNT(*) FROM calls")) or 0)
            async with db.session() as session:
                first, last_id = (
                    await session.execute(select(func.min(Contact.id), func.max(Contact.id)))
                ).one()
            print(f"database: {last_id - first + 1:,} contacts, {have_calls:,} call records")
            return int(first), int(last_id)
        finally:
            await db.dispose()

    result: tuple[int, int] = asyncio.run(run())
    return result


# --- the servers ------------------------------------------------------------------------


def _memory_source(contacts: int) -> Any:
    from routing.facts import AgentRef, RoutingFacts
    from routing.source import InMemoryFactsSource

    agents = [AgentRef(i, f"Agent {100 + i}", (f"Local/{100 + i}@agents/n",)) for i in (1, 2, 3)]
    agents.append(AgentRef(4, "Agent 104", ("Local/104@agents/n",)))  # never logged in
    names = [f"Клиент {i}" for i in range(1000)]
    now = datetime.now(UTC)
    dates = [now - timedelta(days=d, hours=d % 7) for d in range(0, 180, 3)]
    tags = [frozenset(), frozenset(), frozenset(), frozenset({"vip"})]
    facts = {}
    for n in range(contacts):
        facts[f"+{KNOWN_PREFIX}{n:07d}"] = RoutingFacts(
            contact_id=n + 1,
            contact_name=names[n % 1000],
            tags=tags[n % 4],
            owner=agents[(n // 3) % 4],
            last_agent=agents[n % 4],
            last_talked_at=dates[n % len(dates)],
        )
    return InMemoryFactsSource(facts)


def _feed_live_state(state: Any) -> None:
    from telephony.pipeline import EventPipeline
    from telephony.replay import load_index

    path = ROOT / "tests" / "traces" / "02-queue-abandoned-ringing.ami"
    pipeline = EventPipeline(state=state)
    data, index = path.read_bytes(), load_index(path)
    for _at, offset, length in index or []:
        pipeline.feed(data[offset : offset + length], time.time())


def routing_server(conn: Connection, cpu: int | None, spec: Spec) -> None:
    _pin(cpu)
    import logging

    logging.disable(logging.WARNING)  # a refused connection at shutdown is not news here
    from routing.rules import parse_rules
    from trubka.settings import load_settings
    from trubka.wiring import Services

    started = time.perf_counter()
    # The app's composition: the same facts source, router and FastAGI server.
    settings = load_settings(database_url=spec.database_url, agi_host="127.0.0.1", agi_port=0)
    services = Services.create(settings)
    services.router.rules = parse_rules({"vip": {"vip": 10}})
    if spec.source == "memory":
        services.use_facts_source(_memory_source(spec.contacts))
    built = time.perf_counter() - started

    async def main() -> None:
        _feed_live_state(services.live)
        await services.crm.directory.snapshot()
        server = services.agi
        server.max_sessions = 10_000
        await server.start()
        conn.send({"port": server.bound_port, "loop": spec.loop, "built": built})
        router = services.router
        await _serve_marks(conn, lambda: sum(router.stats.decisions.values()), profile=spec.profile)
        await server.stop()
        conn.send(
            {
                "decisions": dict(router.stats.decisions),
                "outcomes": dict(server.stats.outcomes),
                "facts_timeouts": router.stats.facts_timeouts,
                "facts_errors": router.stats.facts_errors,
            }
        )
        services.crm.close()
        await services.db.dispose()

    _run(main, spec.loop)


async def _serve_marks(
    conn: Connection, calls: Callable[[], int], *, profile: str | None = None
) -> None:
    """Answer "mark" with the process's CPU time and calls so far, until "stop"; with
    `profile`, profile the server from the first mark to the second (the flat-out phase)."""
    import cProfile

    loop = asyncio.get_running_loop()
    profiler = cProfile.Profile() if profile else None
    marks = 0
    while (await loop.run_in_executor(None, conn.recv)) == "mark":
        marks += 1
        if profiler is not None and marks == 1:
            profiler.enable()
        if profiler is not None and marks == 2:
            profiler.disable()
            profiler.dump_stats(profile)
        conn.send({"cpu": time.process_time(), "calls": calls()})


def bare_server(conn: Connection, cpu: int | None, loop_name: str) -> None:
    _pin(cpu)
    commands = [f'SET VARIABLE VAR{i} "value {i}"\n'.encode() for i in range(BARE_COMMANDS)]
    done = 0

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal done
        done += 1
        try:
            while (await reader.readline()) not in (b"\n", b""):
                pass
            for command in commands:
                writer.write(command)
                if not await reader.readline():
                    break
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(session, "127.0.0.1", 0)
        conn.send({"port": server.sockets[0].getsockname()[1], "loop": loop_name, "built": 0.0})
        await _serve_marks(conn, lambda: done)
        server.close()
        conn.send({})

    _run(main, loop_name)


# --- the clients ------------------------------------------------------------------------


class Callers:
    """The caller mix: 70 % known, 20 % unknown, 10 % anonymous."""

    def __init__(self, source: str, first: int, last: int) -> None:
        from crm.seed import mobile

        self.source = source
        self.first = first
        self.last = last
        self.mobile = mobile  # the seeded contacts' numbers

    def pick(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.7:
            if self.source == "memory":
                return f"{KNOWN_PREFIX}{rng.randrange(self.last):07d}"
            e164 = self.mobile(rng.randint(self.first, self.last))
            style = rng.random()
            if style < 0.5:
                return e164[1:]  # 7XXXXXXXXXX
            if style < 0.8:
                return "8" + e164[2:]  # 8XXXXXXXXXX
            return e164
        if roll < 0.9:
            return f"{UNKNOWN_PREFIX}{rng.randrange(10_000_000):07d}"
        return "anonymous"


async def _one_call(port: int, env: bytes) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    last = started
    try:
        writer.write(env)
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(b"200 result=1\n")
            last = time.perf_counter()
    finally:
        writer.close()
    return last - started


async def _run_clients(
    port: int, clients: int, seconds: float, rate: float | None, callers: Callers
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        period = clients / rate if rate else 0.0
        next_at = time.perf_counter() + rng.random() * period
        uid = 0
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            if period:
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                next_at += period
            uid += 1
            env = ENV_TEMPLATE.format(num=callers.pick(rng), uid=f"{n}.{uid}").encode()
            try:
                latencies.append(await _one_call(port, env))
            except OSError:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    count = len(latencies)
    return {
        "calls": count,
        "errors": errors,
        "per_second": count / elapsed,
        "p50_ms": latencies[count // 2] * 1000 if count else float("nan"),
        "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else float("nan"),
        "mean_ms": statistics.fmean(latencies) * 1000 if count else float("nan"),
    }


def client_process(
    conn: Connection,
    cpu: int | None,
    port: int,
    clients: int,
    seconds: float,
    rate: float | None,
    callers: Callers,
    loop: str,
) -> None:
    _pin(cpu)
    conn.send(_run(lambda: _run_clients(port, clients, seconds, rate, callers), loop))


def _measure(
    ctx: Any, port: int, args: argparse.Namespace, rate: float | None, callers: Callers
) -> dict[str, Any]:
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=client_process,
        args=(
            child,
            args.client_cpu,
            port,
            args.clients,
            args.seconds,
            rate,
            callers,
            args.loop,
        ),
    )
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    return result


def _bench_server(
    ctx: Any,
    name: str,
    target: Callable[..., None],
    server_args: tuple[Any, ...],
    args: argparse.Namespace,
    callers: Callers,
) -> dict[str, Any]:
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *server_args))
    proc.start()
    info: dict[str, Any] = parent.recv()
    if info["built"]:
        print(f"  {name}: ready in {info['built']:.1f} s")
    warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
    _measure(ctx, info["port"], warm, None, callers)
    parent.send("mark")
    before = parent.recv()
    flat_out = _measure(ctx, info["port"], args, None, callers)
    parent.send("mark")
    after = parent.recv()
    flat_out["cpu_us"] = (
        (after["cpu"] - before["cpu"]) / max(1, after["calls"] - before["calls"]) * 1e6
    )
    steady = _measure(ctx, info["port"], args, args.rate, callers)
    parent.send("stop")
    tail: dict[str, Any] = parent.recv()
    proc.join()
    return {"name": name, "loop": info["loop"], "flat_out": flat_out, "steady": steady, **tail}


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help="1,000,000 contacts and 10,000,000 call records"
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000_000, help="call records to seed")
    parser.add_argument("--source", choices=("db", "memory"), default="db")
    parser.add_argument("--db", type=Path, default=None, help="SQLite file (seeded once, reused)")
    parser.add_argument("--postgres", metavar="URL", default=None, help="use this database")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measured phase")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="offered calls/s in the steady phase"
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument(
        "--profile", metavar="FILE", default=None, help="cProfile the routing server (flat out)"
    )
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1 if (os.cpu_count() or 1) > 1 else 0)
    args = parser.parse_args()
    if args.full:
        args.contacts, args.calls = 1_000_000, 10_000_000

    if args.postgres:
        from trubka.settings import normalize_database_url

        url = normalize_database_url(args.postgres)
    else:
        path = args.db or ROOT / "var" / "bench" / f"routing-agi-{args.contacts}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    if args.source == "db":
        first, last = prepare_database(url, args.contacts, args.calls)
    else:
        from crm.database import upgrade

        upgrade(url)  # the app's other services still open the database
        first, last = 0, args.contacts
    callers = Callers(args.source, first, last)

    ctx = mp.get_context("spawn")
    print(
        f"routing over FastAGI: {args.clients} clients, facts from "
        f"{'the database' if args.source == 'db' else 'memory'} "
        f"({last - first + 1:,} contacts), {args.seconds:g} s per phase, steady load "
        f"{args.rate:g}/s, {args.loop}; server on CPU {args.server_cpu}, clients on CPU "
        f"{args.client_cpu} of {os.cpu_count()}"
    )
    print(f"load average before: {_loadavg()}")
    spec = Spec(args.source, url, args.contacts, args.loop, args.profile)
    results = [
        _bench_server(ctx, "routing", routing_server, (args.server_cpu, spec), args, callers),
        _bench_server(
            ctx, "bare SET VARIABLE", bare_server, (args.server_cpu, args.loop), args, callers
        ),
    ]
    print()
    print(
        f"{'server':<18} {'loop':<8} {'phase':<16} {'calls':>8} {'per s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    for r in results:
        for phase, label in (("flat_out", "flat out"), ("steady", f"{args.rate:g}/s offered")):
            m = r[phase]
            print(
                f"{r['name']:<18} {r['loop']:<8} {label:<16} "
                f"{m['calls']:>8} {m['per_second']:>8.0f} "
                f"{m['p50_ms']:>8.3f} {m['p99_ms']:>8.3f} {m['errors']:>6}"
            )
    routing, bare = results
    print()
    print(f"decisions by routed_by: {routing.get('decisions')}")
    print(
        f"facts deadline missed: {routing.get('facts_timeouts')} "
        f"(errors: {routing.get('facts_errors')})"
    )
    for r in results:
        cpu = r["flat_out"]["cpu_us"]
        print(
            f"{r['name']}: server CPU {cpu:.0f} µs per call (user+system, kernel TCP included) "
            f"→ {1e6 / cpu:,.0f} calls/s on one core"
        )
    ratio = routing["steady"]["p99_ms"] / bare["steady"]["p99_ms"]
    print(
        f"targets: p99 ≤ 2 ms at {args.rate:g}/s: {routing['steady']['p99_ms']:.3f} ms; "
        f"≥ 2,000 decisions/s: {routing['flat_out']['per_second']:.0f}/s measured, "
        f"{1e6 / routing['flat_out']['cpu_us']:,.0f}/s by server CPU; "
        f"p99 ≤ 2× bare: {ratio:.2f}×"
    )
    print(f"load average after: {_loadavg()}")


if __name__ == "__main__":
    main()
