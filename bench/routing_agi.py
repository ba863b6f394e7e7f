"""Benchmark: routing decisions over FastAGI, next to a bare FastAGI server.

Starts, one after the other, (1) Trubka's FastAGI routing server with an in-memory facts
source of N synthetic contacts (1,000,000 by default) and the live agent state of trace
02 (three agents free), and (2) a bare FastAGI server that only reads the environment
and sends the same number of ``SET VARIABLE`` commands (seven, as for a routed known
caller). Each server runs in its own process pinned to one core; the clients run in
another process. 50 concurrent clients speak raw FastAGI over TCP, as Asterisk does,
with a caller mix of 70 % known contacts, 20 % unknown numbers, 10 % anonymous.

Measured per server: decisions per second with the clients going flat out, and the
latency from connect to the reply to the last ``SET VARIABLE`` (p50/p99) both flat out
and at a steady offered load (default 2,000 calls/s). Targets: p99 ≤ 2 ms and ≥ 2,000
decisions/s on one core, p99 ≤ 2× the bare server's.

    python bench/routing_agi.py                      # 1M contacts, 8 s per phase
    python bench/routing_agi.py --contacts 100000 --seconds 3
    python bench/routing_agi.py --facts-factory crm.routing_facts:from_database_url \\
        --database-url postgresql://…   # round two: the CRM's DB-backed source

The machine may be shared: the load average is printed next to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KNOWN_PREFIX = "7916"  # synthetic contacts: 7916 + 7 digits
UNKNOWN_PREFIX = "7925"
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
        ]
    )
    + "\n"
)


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def _use_uvloop() -> str:
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    uvloop.install()
    return "uvloop"


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


def _factory_source(spec: str, database_url: str) -> Any:
    module_name, _, attr = spec.partition(":")
    factory: Callable[[str], Any] = getattr(importlib.import_module(module_name), attr)
    return factory(database_url)


def _live_state() -> Any:
    from telephony.pipeline import EventPipeline
    from telephony.replay import load_index

    path = ROOT / "tests" / "traces" / "02-queue-abandoned-ringing.ami"
    pipeline = EventPipeline()
    data, index = path.read_bytes(), load_index(path)
    for _at, offset, length in index or []:
        pipeline.feed(data[offset : offset + length], time.time())
    return pipeline.state


def routing_server(
    conn: Connection, cpu: int | None, contacts: int, factory: str | None, db_url: str
) -> None:
    _pin(cpu)
    loop_name = _use_uvloop()
    import logging

    logging.disable(logging.WARNING)  # a refused connection at shutdown is not news here
    from routing.rules import parse_rules
    from telephony.agi_server import AgiServer
    from telephony.router import CallRouter

    started = time.perf_counter()
    source = _factory_source(factory, db_url) if factory else _memory_source(contacts)
    built = time.perf_counter() - started
    rules = parse_rules({"vip": {"vip": 10}})

    async def main() -> None:
        router = CallRouter(source, _live_state(), rules)
        server = AgiServer(router, "127.0.0.1", 0, max_sessions=10_000)
        await server.start()
        conn.send({"port": server.bound_port, "loop": loop_name, "built": built})
        await _serve_marks(conn, lambda: sum(router.stats.decisions.values()))
        await server.stop()
        conn.send(
            {"decisions": dict(router.stats.decisions), "outcomes": dict(server.stats.outcomes)}
        )

    asyncio.run(main())


async def _serve_marks(conn: Connection, calls: Callable[[], int]) -> None:
    """Answer "mark" with the process's CPU time and calls so far, until "stop"."""
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, conn.recv)) == "mark":
        conn.send({"cpu": time.process_time(), "calls": calls()})


def bare_server(conn: Connection, cpu: int | None) -> None:
    _pin(cpu)
    loop_name = _use_uvloop()
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

    asyncio.run(main())


# --- the clients ------------------------------------------------------------------------


def _caller(rng: random.Random, contacts: int) -> str:
    roll = rng.random()
    if roll < 0.7:
        return f"{KNOWN_PREFIX}{rng.randrange(contacts):07d}"
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
    port: int, clients: int, seconds: float, rate: float | None, contacts: int
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
            env = ENV_TEMPLATE.format(num=_caller(rng, contacts), uid=f"{n}.{uid}").encode()
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
    contacts: int,
) -> None:
    _pin(cpu)
    _use_uvloop()
    conn.send(asyncio.run(_run_clients(port, clients, seconds, rate, contacts)))


def _measure(ctx: Any, port: int, args: argparse.Namespace, rate: float | None) -> dict[str, Any]:
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=client_process,
        args=(child, args.client_cpu, port, args.clients, args.seconds, rate, args.contacts),
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
) -> dict[str, Any]:
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *server_args))
    proc.start()
    info: dict[str, Any] = parent.recv()
    if info["built"]:
        print(f"  {name}: facts source ready in {info['built']:.1f} s")
    _measure(
        ctx, info["port"], argparse.Namespace(**{**vars(args), "seconds": 1.0}), None
    )  # warm-up
    parent.send("mark")
    before = parent.recv()
    flat_out = _measure(ctx, info["port"], args, None)
    parent.send("mark")
    after = parent.recv()
    flat_out["cpu_us"] = (
        (after["cpu"] - before["cpu"]) / max(1, after["calls"] - before["calls"]) * 1e6
    )
    steady = _measure(ctx, info["port"], args, args.rate)
    parent.send("stop")
    tail: dict[str, Any] = parent.recv()
    proc.join()
    return {"name": name, "loop": info["loop"], "flat_out": flat_out, "steady": steady, **tail}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each measured phase")
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="offered calls/s in the steady phase"
    )
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1 if (os.cpu_count() or 1) > 1 else 0)
    parser.add_argument(
        "--facts-factory",
        default=None,
        help="MODULE:CALLABLE building a FactsSource from --database-url (e.g. the CRM's)",
    )
    parser.add_argument("--database-url", default=os.environ.get("TRUBKA_DATABASE_URL", ""))
    args = parser.parse_args()
    if args.facts_factory:
        try:
            _factory_source(args.facts_factory, args.database_url)
        except (ImportError, AttributeError) as exc:
            sys.exit(f"--facts-factory {args.facts_factory}: {exc}")

    ctx = mp.get_context("spawn")
    load_before = os.getloadavg()
    print(
        f"routing over FastAGI: {args.clients} clients, {args.contacts:,} contacts "
        f"({args.facts_factory or 'in-memory'}), {args.seconds:g} s per phase, "
        f"steady load {args.rate:g}/s; "
        f"server on CPU {args.server_cpu}, clients on CPU {args.client_cpu} of {os.cpu_count()}"
    )
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    results = [
        _bench_server(
            ctx,
            "routing",
            routing_server,
            (args.server_cpu, args.contacts, args.facts_factory, args.database_url),
            args,
        ),
        _bench_server(ctx, "bare SET VARIABLE", bare_server, (args.server_cpu,), args),
    ]
    load_after = os.getloadavg()
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
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
