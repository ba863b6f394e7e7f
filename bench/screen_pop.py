"""Screen-pop latency over real WebSockets, from the PBX's write to the agent's browser.

    python bench/screen_pop.py                       # 100 agents, 10 calls/s, 10 s phases
    python bench/screen_pop.py --full                # 500 agents, 50 calls/s, 20 s phases

Three processes, as in production: the simulated PBX (AMI over TCP) recording when it
writes each `AgentCalled` to its socket; `trubka serve` (the real server, SQLite file);
and this process with one `websockets` client per agent, recording when each
`screen_pop` arrives. Latency = arrival − PBX write (both `time.time()` on this machine).

Phase 1: one agent (extension 1000, alone in queue `solo`, rung about twice a second) is
connected while the PBX offers the full call rate to the other agents (queue `bench`).
Phase 2: every agent is connected. Printed: p50/p99/max per phase (with a 95 % bootstrap
interval of the p99: the noise of the phase's own sample), the server's memory
per connected agent (RSS growth from 1 to N sockets), and the load average (the machine
may be shared: the lead re-runs this on a quiet one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AGENT_BASE = 1000
AMI_USER = "bench"
CALLED = re.compile(rb"Event: AgentCalled\r\n(.*?)\r\n\r\n", re.S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the PBX process ---------------------------------------------------------------------
async def run_pbx(args: argparse.Namespace) -> None:
    from telephony.simpbx import AgentConfig, QueueConfig, SimConfig, SimPbx, Timing

    writes: dict[str, float] = {}

    def on_write(data: bytes) -> None:
        if b"AgentCalled" not in data:
            return
        now = time.time()
        for match in CALLED.finditer(data):
            block = match.group(1)
            linkedid = re.search(rb"\r\nLinkedid: ([^\r]+)", block)
            interface = re.search(rb"\r\nInterface: ([^\r]+)", block)
            if linkedid and interface:
                writes.setdefault(
                    f"{linkedid.group(1).decode()}|{interface.group(1).decode()}", now
                )

    agents = [AgentConfig(str(AGENT_BASE), "Solo Agent", ("solo",), answer_delay=0.05)]
    agents += [
        AgentConfig(str(AGENT_BASE + i), f"Agent {i}", ("bench",), answer_delay=0.3)
        for i in range(1, args.agents)
    ]
    timing = Timing(
        call_interval=0,
        talk_time=(1.0, 3.0),
        patience=(60.0, 60.0),
        agent_hangup_share=0.0,
        transfer_share=0.0,
        no_answer_share=0.0,
    )
    config = SimConfig(
        username=AMI_USER,
        secret=args.secret,
        port=args.port,
        agents=tuple(agents),
        queues=(
            QueueConfig("solo", timeout=10.0, retry=0.05, wrapup=0.0),
            QueueConfig("bench", timeout=10.0, retry=0.2, wrapup=0.0),
        ),
        default_queue="bench",
        timing=timing,
        record=False,
        seed=1,
    )
    pbx = SimPbx(config, on_write=on_write)
    await pbx.start(generate=False)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.readline()  # "go"

    async def offer(queue: str, rate: float, talk: float | None) -> None:
        n = 0
        start = time.monotonic()
        while True:
            n += 1
            pbx.place_call(f"7495{n % 10_000_000:07d}", f"Bench {n}", queue=queue, talk_time=talk)
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))

    tasks = [
        asyncio.create_task(offer("bench", args.rate, None)),
        asyncio.create_task(offer("solo", 2.0, 0.1)),
    ]
    await reader.readline()  # "stop"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps(writes), flush=True)
    await pbx.stop()


# --- this process: users, sessions, the server, the clients ------------------------------
async def prepare_database(url: str, agents: int) -> list[tuple[int, str]]:
    """Migrate, add the agents and a session each; [(user id, session token)]."""
    from crm.database import Database
    from crm.services import CrmServices
    from crm.users import use_fast_hashing

    use_fast_hashing()
    db = Database(url)
    await db.upgrade()
    crm = CrmServices.create(db)
    sessions = []
    try:
        for i in range(agents):
            user = await crm.users.create(
                login=f"agent{AGENT_BASE + i}",
                name=f"Agent {i}",
                role="agent",
                password="bench-password",
                interfaces=[f"Local/{AGENT_BASE + i}@agents/n"],
            )
            sessions.append((user.id, await crm.sessions.create(user.id)))
    finally:
        crm.close()
        await db.dispose()
    return sessions


@dataclass
class Clients:
    url: str
    received: dict[str, tuple[float, str]] = field(default_factory=dict)  # key -> (t, phase)
    # key -> seconds from the server reading the ring off the AMI socket (`ringing_since`)
    # to this process receiving the pop: the server's own part of the latency
    server_part: dict[str, float] = field(default_factory=dict)
    phase: str = "warmup"
    sockets: list[Any] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def connect(self, token: str) -> None:
        import websockets

        ws = await websockets.connect(
            self.url,
            additional_headers={"Cookie": f"trubka_session={token}"},
            max_queue=None,
            open_timeout=60,
        )
        self.sockets.append(ws)
        self.tasks.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: Any) -> None:
        with contextlib.suppress(Exception):
            async for text in ws:
                now = time.time()
                if '"screen_pop"' not in text:
                    continue
                message = json.loads(text)
                if message.get("type") != "screen_pop" or message.get("update"):
                    continue
                key = f"{message['linkedid']}|{message['agent_interface']}"
                if key not in self.received:
                    self.received[key] = (now, self.phase)
                    read_at = datetime.fromisoformat(message["ringing_since"]).timestamp()
                    self.server_part[key] = now - read_at

    async def close(self) -> None:
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def children_cpu_seconds(pid: int) -> dict[int, float]:
    """The CPU seconds of each live child of `pid` (the rules' own process of
    TRUBKA_RULES_PROCESS), by pid."""
    import psutil

    out = {}
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            out[child.pid] = float(times.user + times.system)
    return out


def rss(pid: int) -> int:
    import psutil

    return int(psutil.Process(pid).memory_info().rss)


def p99_of(sorted_ms: list[float]) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * 0.99))]


def p99_interval(ms: list[float], rounds: int = 1000) -> tuple[float, float]:
    """A 95 % bootstrap interval of the p99: the phase's pops drawn again with
    replacement `rounds` times (a fixed seed: the same pops give the same interval). Two
    phases whose intervals overlap have p99s that differ within the noise of their own
    samples."""
    draw = random.Random(99)
    values = sorted(p99_of(sorted(draw.choices(ms, k=len(ms)))) for _ in range(rounds))
    return values[int(rounds * 0.025)], values[int(rounds * 0.975) - 1]


def figures(latencies: list[float]) -> str:
    if not latencies:
        return "no pops received"
    ms = sorted(x * 1000 for x in latencies)
    low, high = p99_interval(ms)
    return (
        f"{len(ms)} pops: p50 {statistics.median(ms):.1f} ms, p99 {p99_of(ms):.1f} ms "
        f"(95 % interval {low:.1f}–{high:.1f}), max {ms[-1]:.1f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    if args.full:
        args.agents, args.rate, args.phase = 500, 50.0, 20.0
    load_before = os.getloadavg()
    secret = secrets.token_urlsafe(12)
    ami_port, http_port = free_port(), free_port()
    # Callers (bench/rules.py) may set on `args`: `database_url` (else a fresh SQLite
    # file), `server_env` (more of the server's environment, e.g. TRUBKA_ROLES) and
    # `companions`: [(name, environment)] more `trubka serve` nodes on the same database
    # (e.g. a `workers` node), started before the PBX goes, CPU printed beside the server's.
    companions: list[tuple[str, dict[str, str]]] = getattr(args, "companions", None) or []
    with tempfile.TemporaryDirectory() as tmp:
        url = getattr(args, "database_url", None) or f"sqlite+aiosqlite:///{tmp}/bench.db"
        print(f"preparing {args.agents} agents …", flush=True)
        sessions = await prepare_database(url, args.agents)
        pbx = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--role",
            "pbx",
            "--port",
            str(ami_port),
            f"--secret={secret}",
            "--agents",
            str(args.agents),
            "--rate",
            str(args.rate),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**30,
        )
        assert pbx.stdin is not None and pbx.stdout is not None
        await pbx.stdout.readline()  # ready
        env = {
            **os.environ,
            "TRUBKA_DATABASE_URL": url,
            "TRUBKA_AMI_PORT": str(ami_port),
            "TRUBKA_AMI_USER": AMI_USER,
            "TRUBKA_AMI_SECRET": secret,
            "TRUBKA_AGI_ENABLED": "false",
            # bench agents never save a wrap-up: no after-call hold, every agent rings again
            "TRUBKA_WRAPUP_LIMIT": "0",
            "TRUBKA_HTTP_PORT": str(http_port),
            "TRUBKA_LOG_LEVEL": "WARNING",
            "TRUBKA_RECORDINGS_DIR": f"{tmp}/recordings",
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "trubka",
            "serve",
            env={**env, **(getattr(args, "server_env", None) or {})},
            cwd=tmp,
        )
        others: list[tuple[str, Any, int]] = []  # (name, process, HTTP port)
        for name, extra in companions:
            port = free_port()
            own = {**env, "TRUBKA_HTTP_PORT": str(port), **extra}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "trubka", "serve", env=own, cwd=tmp
            )
            others.append((name, process, port))
        clients = Clients(f"ws://127.0.0.1:{http_port}/ws")
        try:
            import httpx

            cookie = {"trubka_session": sessions[0][1]}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
                async with asyncio.timeout(60):
                    while True:  # the server starts, connects to the PBX (no event to await)
                        with contextlib.suppress(httpx.TransportError):
                            status = (await http.get("/api/status", cookies=cookie)).json()
                            if (status.get("ami") or {}).get("state") == "connected":
                                break
                        await asyncio.sleep(0.2)
                    for _name, _process, port in others:  # `/readyz`: no supervisor counted
                        while True:
                            with contextlib.suppress(httpx.TransportError):
                                answer = await http.get(f"http://127.0.0.1:{port}/readyz")
                                if answer.status_code == 200:
                                    break
                            await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # start-up's own work settles
            idle_start, idle_at = cpu_seconds(server.pid), time.time()
            # no call, no agent: what the server's own timers cost
            await asyncio.sleep(getattr(args, "idle", 5.0))
            cpu_idle = (cpu_seconds(server.pid) - idle_start) / (time.time() - idle_at)
            memory_idle = rss(server.pid)
            await clients.connect(sessions[0][1])
            pbx.stdin.write(b"go\n")
            await pbx.stdin.drain()
            await asyncio.sleep(2.0)  # warm-up: the queues fill, the calls get going
            memory_one = rss(server.pid)
            clients.phase = "one"
            await asyncio.sleep(args.phase)
            clients.phase = "connecting"
            rest = [token for _, token in sessions[1:]]
            for start in range(0, len(rest), 25):  # a browser-like trickle, not one burst
                await asyncio.gather(*(clients.connect(t) for t in rest[start : start + 25]))
            await asyncio.sleep(2.0)
            memory_all = rss(server.pid)
            clients.phase = "all"
            cpu_start, all_start = cpu_seconds(server.pid), time.time()
            others_start = [cpu_seconds(p.pid) for _n, p, _port in others]
            children_start = children_cpu_seconds(server.pid)
            await asyncio.sleep(args.phase)
            clients.phase = "done"
            cpu_all, all_end = cpu_seconds(server.pid) - cpu_start, time.time()
            children_cpu = sum(
                seconds - children_start.get(pid, 0.0)
                for pid, seconds in children_cpu_seconds(server.pid).items()
            )
            others_cpu = [
                cpu_seconds(p.pid) - start
                for (_n, p, _port), start in zip(others, others_start, strict=True)
            ]
            pbx.stdin.write(b"stop\n")
            await pbx.stdin.drain()
            writes: dict[str, float] = json.loads(await pbx.stdout.readline())
            load_after = os.getloadavg()
        finally:
            await clients.close()
            for process in [server, *(p for _n, p, _port in others)]:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
            for process in [server, *(p for _n, p, _port in others)]:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 15)
                if process.returncode is None:
                    process.kill()
            if pbx.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    pbx.kill()
            await pbx.wait()
    solo = f"|Local/{AGENT_BASE}@agents/n"
    one = [t - writes[k] for k, (t, p) in clients.received.items() if p == "one" and k in writes]
    everyone = [
        t - writes[k] for k, (t, p) in clients.received.items() if p == "all" and k in writes
    ]
    offered_all = [k for k in writes if not k.endswith(solo)]
    server_all = [clients.server_part[k] for k, (_t, p) in clients.received.items() if p == "all"]
    print(
        f"screen pop, PBX write → agent's socket ({args.agents} agents, {args.rate:g} calls/s "
        f"offered, {args.phase:g} s per phase)"
    )
    print(f"  1 agent connected:      {figures(one)}")
    print(f"  {args.agents} agents connected: {figures(everyone)}")
    if everyone:
        # Where the tail sits in time: a backlog at the start, or stalls all along?
        windows: dict[int, list[float]] = {}
        for k, (t, p) in clients.received.items():
            if p == "all" and k in writes:
                windows.setdefault(int((t - all_start) // 5), []).append(t - writes[k])
        print(
            "  max per 5 s of the measured phase: "
            + ", ".join(f"{max(v) * 1000:.0f} ms" for _, v in sorted(windows.items()))
        )
    print(
        f"  of which AMI read in the server → agent's socket ({args.agents} agents; "
        f"`ringing_since` has ms resolution): {figures(server_all)}"
    )
    print(f"  rings written by the PBX in the run: {len(writes)} ({len(offered_all)} to `bench`)")
    rings_all = sum(1 for t in writes.values() if all_start <= t < all_end)
    print(
        "  server CPU idle (connected to the PBX, no call, no agent): "
        f"{cpu_idle * 1000:.1f} ms per s\n"
        f"  server CPU with {args.agents} agents: {cpu_all / (all_end - all_start) * 100:.0f}% "
        f"of a core, {cpu_all / max(1, rings_all) * 1000:.2f} ms per ring ({rings_all} rings)"
    )
    if children_cpu:
        print(
            "  the server's child processes (TRUBKA_RULES_PROCESS: the rules) CPU: "
            f"{children_cpu / (all_end - all_start) * 100:.0f}% of a core"
        )
    for (name, _process, _port), cpu in zip(others, others_cpu, strict=True):
        print(f"  {name} CPU: {cpu / (all_end - all_start) * 100:.0f}% of a core")
    per_agent = (memory_all - memory_one) / max(1, args.agents - 1)
    print(
        f"  server memory: {memory_idle / 2**20:.1f} MiB idle, {memory_one / 2**20:.1f} MiB with "
        f"1 agent, {memory_all / 2**20:.1f} MiB with {args.agents}: "
        f"{per_agent / 1024:.1f} KiB per connected agent"
    )
    print(
        "  load average: before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f} "
        "(2 cores; the machine may be shared)".format(*load_before, *load_after)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    parser.add_argument("--phase", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds measured idle")
    parser.add_argument("--full", action="store_true", help="500 agents, 50 calls/s, 20 s")
    parser.add_argument("--role", choices=["bench", "pbx"], default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--secret", default="", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    asyncio.run(run_pbx(arguments) if arguments.role == "pbx" else main(arguments))
