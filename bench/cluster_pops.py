"""Screen-pop latency across nodes: two web nodes on one PostgreSQL database, the AMI
consumer on one of them, against one node — in the same run.

    python bench/cluster_pops.py --pg postgresql+asyncpg://user:pw@host/postgres
    python bench/cluster_pops.py --pg … --full    # 500 vs 1,000 agents, 50 calls/s, 40 s

Two phases, each on a fresh database created on the `--pg` server (dropped after):

1. **one node**: `trubka serve` consuming the simulated PBX's AMI (TRUBKA_CLUSTER=false,
   as a single node runs), `--agents` agents connected to it;
2. **two nodes**: node A consumes AMI, node B does not (TRUBKA_AMI_ENABLED=false); twice
   as many agents, half connected to A and half to B: B's pops travel from A through
   PostgreSQL LISTEN/NOTIFY (`trubka.cluster`).

Same offered load in both: `--rate` calls/s to the agents (queue `bench`) and two a
second to the solo agent. The PBX process and the clients are `bench/screen_pop.py`'s:
latency = the pop's arrival at the agent's socket − the PBX writing `AgentCalled`.
Printed: p50/p99/max per phase (and per node in phase 2), the ratio of the p99s (the
issue's target: two nodes at 2N agents ≤ 1.5 × one node at N) and the load average.

`--full` measures 40 s per phase: some 2,100 pops each (50 calls/s and the solo agent's
two a second). With 20 s (1,040 pops) the p99 was the 11th-worst pop, and one stall of a
few tens of milliseconds on either node moved it: four runs alone on a quiet machine gave
ratios from 1.35 to 2.41. What is measured is unchanged: PBX write → agent's socket, both
phases in one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.screen_pop import (  # noqa: E402 - after the path is set
    AMI_USER,
    Clients,
    figures,
    free_port,
    prepare_database,
)

SCREEN_POP = ROOT / "bench" / "screen_pop.py"


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new database on the server of `server_url` (SQLAlchemy asyncpg URL), dropped after."""
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"trubka_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def start_pbx(agents: int, rate: float, port: int, secret: str) -> Any:
    pbx = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCREEN_POP),
        "--role",
        "pbx",
        "--port",
        str(port),
        f"--secret={secret}",
        "--agents",
        str(agents),
        "--rate",
        str(rate),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=2**30,
    )
    assert pbx.stdout is not None
    await pbx.stdout.readline()  # ready
    return pbx


async def start_node(env: dict[str, str], cwd: str) -> Any:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trubka", "serve", env=env, cwd=cwd
    )


async def wait_ready(port: int, token: str, *, ami: bool) -> None:
    """Until the node answers (and, for the AMI consumer, is connected to the PBX).

    A node that does not consume AMI is asked `/readyz`, not `/api/status`: there
    `/api/status` counts as a supervisor watching for 15 s (`fresh_live_document`), so
    the AMI node built and relayed the live view of every agent during the measured
    phase — work the one-node phase (no supervisor) never does."""
    import httpx

    cookie = {"trubka_session": token}
    path = "/api/status" if ami else "/readyz"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        async with asyncio.timeout(90):
            while True:
                with contextlib.suppress(httpx.TransportError, ValueError):
                    response = await http.get(path, cookies=cookie)
                    if response.status_code == 200:
                        status = response.json()
                        if not ami or (status.get("ami") or {}).get("state") == "connected":
                            return
                await asyncio.sleep(0.2)


async def stop(process: Any) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 15)
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def phase(
    server_url: str, agents: int, nodes: int, args: argparse.Namespace
) -> tuple[list[float], dict[str, list[float]]]:
    """One measured run; the latencies of all pops, and per node."""
    secret = secrets.token_urlsafe(12)
    ami_port = free_port()
    ports = [free_port() for _ in range(nodes)]
    async with fresh_database(server_url) as url:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"  preparing {agents} agents, {nodes} node(s) …", flush=True)
            sessions = await prepare_database(url, agents)
            pbx = await start_pbx(agents, args.rate, ami_port, secret)
            servers = []
            clients = [Clients(f"ws://127.0.0.1:{port}/ws") for port in ports]
            try:
                for i, port in enumerate(ports):
                    env = {
                        **os.environ,
                        "TRUBKA_DATABASE_URL": url,
                        "TRUBKA_AMI_ENABLED": "true" if i == 0 else "false",
                        "TRUBKA_AMI_PORT": str(ami_port),
                        "TRUBKA_AMI_USER": AMI_USER,
                        "TRUBKA_AMI_SECRET": secret,
                        "TRUBKA_AGI_ENABLED": "false",
                        "TRUBKA_WRAPUP_LIMIT": "0",  # no after-call hold (see screen_pop)
                        "TRUBKA_HTTP_PORT": str(port),
                        "TRUBKA_LOG_LEVEL": "WARNING",
                        "TRUBKA_RECORDINGS_DIR": f"{tmp}/recordings-{i}",
                        "TRUBKA_CLUSTER": "true" if nodes > 1 else "false",
                        "TRUBKA_SECRET_KEY": "bench-secret-key-bench-secret-key",
                    }
                    servers.append(await start_node(env, tmp))
                for i, port in enumerate(ports):
                    await wait_ready(port, sessions[0][1], ami=i == 0)
                tokens = [token for _, token in sessions]
                for start in range(0, len(tokens), 25):  # a browser-like trickle
                    chunk = tokens[start : start + 25]
                    await asyncio.gather(
                        *(clients[n % nodes].connect(t) for n, t in enumerate(chunk, start))
                    )
                assert pbx.stdin is not None and pbx.stdout is not None
                pbx.stdin.write(b"go\n")
                await pbx.stdin.drain()
                await asyncio.sleep(args.warmup)
                for c in clients:
                    c.phase = "all"
                await asyncio.sleep(args.phase)
                for c in clients:
                    c.phase = "done"
                pbx.stdin.write(b"stop\n")
                await pbx.stdin.drain()
                writes: dict[str, float] = json.loads(await pbx.stdout.readline())
            finally:
                for c in clients:
                    await c.close()
                for server in servers:
                    await stop(server)
                await stop(pbx)
    per_node: dict[str, list[float]] = {}
    everyone: list[float] = []
    for i, c in enumerate(clients):
        name = "A (AMI)" if i == 0 else "B (relayed)"
        mine = [t - writes[k] for k, (t, p) in c.received.items() if p == "all" and k in writes]
        per_node[name] = mine
        everyone += mine
    return everyone, per_node


def p99(latencies: list[float]) -> float | None:
    if not latencies:
        return None
    ms = sorted(x * 1000 for x in latencies)
    return ms[min(len(ms) - 1, int(len(ms) * 0.99))]


async def main(args: argparse.Namespace) -> None:
    if args.full:
        args.agents, args.rate, args.phase = 500, 50.0, 40.0
    load_before = os.getloadavg()
    started = time.time()
    print(f"phase 1: one node, {args.agents} agents, {args.rate:g} calls/s", flush=True)
    one, _ = await phase(args.pg, args.agents, 1, args)
    print(f"phase 2: two nodes, {2 * args.agents} agents, {args.rate:g} calls/s", flush=True)
    two, per_node = await phase(args.pg, 2 * args.agents, 2, args)
    load_after = os.getloadavg()
    print(
        f"screen pop, PBX write → agent's socket ({args.rate:g} calls/s offered, "
        f"{args.phase:g} s measured per phase, {time.time() - started:.0f} s in all)"
    )
    print(f"  one node, {args.agents} agents:   {figures(one)}")
    print(f"  two nodes, {2 * args.agents} agents: {figures(two)}")
    for name, latencies in per_node.items():
        print(f"    agents on node {name}: {figures(latencies)}")
    single, double = p99(one), p99(two)
    if single and double:
        verdict = "within" if double <= 1.5 * single else "OVER"
        print(f"  p99 ratio two nodes / one node: {double / single:.2f} ({verdict} the 1.5 target)")
    print(
        "  load average: before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f} "
        "(the machine may be shared)".format(*load_before, *load_after)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get("TRUBKA_BENCH_PG_URL", ""),
        help="a PostgreSQL server where the user may create databases "
        "(postgresql+asyncpg://…; default: TRUBKA_BENCH_PG_URL)",
    )
    parser.add_argument("--agents", type=int, default=100, help="agents of the one-node phase")
    parser.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    parser.add_argument("--phase", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument(
        "--full", action="store_true", help="500 vs 1,000 agents, 50 calls/s, 40 s per phase"
    )
    arguments = parser.parse_args()
    if not arguments.pg:
        parser.error("name a PostgreSQL server: --pg or TRUBKA_BENCH_PG_URL")
    asyncio.run(main(arguments))
