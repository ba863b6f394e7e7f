"""The cost of one live-view update fanned out to supervisors over real WebSockets.

    python bench/live_fanout.py                      # 2,000 calls in progress, 50 supervisors
    python bench/live_fanout.py --calls 5000 --supervisors 200 --rounds 50

Trubka runs as it does in production (uvicorn, `/ws`, the hub, the live feed) with a
live state of `--calls` calls in progress (each agent on one, the rest waiting in the
queues). `--supervisors` signed-in supervisors connect over real WebSockets from a
separate process (so their reading does not share the server's CPU). Then, round after
round, one thing happens on the PBX and the time until every supervisor has the update
is measured:

* **a caller joins a queue** — the delta carries that queue whole (with its hundreds of
  waiting callers) and the totals;
* **an agent's state changes** — the agent and the queues it belongs to;
* **a burst** of 500 events at once — still one update;
* **the whole picture** — what a socket gets on connect (and everyone after a resync).

For each: the size of the message, the server's build + serialize time (once for all
supervisors), the time until the last supervisor received it, and the server process's
CPU time per update. The feed's pace (`TRUBKA_LIVE_UPDATE_INTERVAL`, at most one update
per 0.3 s) is turned off here: the figures are those of one update. The machine may be
shared: the load average is printed with them.
The default size is the one the issue asks for (2,000 calls, 50 supervisors).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernel.agents import AgentState
from telephony import domain as d
from telephony.reducer import CallState
from telephony.state import Agent, Call, Channel, Membership, Queue, QueueCaller

PASSWORD = "bench-password"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def busy_state(state: CallState, calls: int, agents: int, queues: int, now: float) -> None:
    """`calls` calls in progress: each agent on one, the rest waiting in the queues."""
    names = [f"queue{q}" for q in range(queues)]
    for name in names:
        state.queues[name] = Queue(name=name, service_level=20)
    for a in range(agents):
        key = f"PJSIP/{2001 + a}"
        agent = Agent(key=key, name=f"Агент {2001 + a}", device_state="INUSE")
        for name in names[a % queues : a % queues + 2]:
            agent.memberships[name] = Membership(
                name, key, key, agent.name or key, 2, False, "", True, 10, 0, 0
            )
            state.queues[name].members.add(key)
        state.agents[key] = agent
    for n in range(calls):
        add_call(state, n, now, answered_by=f"PJSIP/{2001 + n}" if n < agents else None)


def add_call(state: CallState, n: int, now: float, answered_by: str | None = None) -> Call:
    linkedid = f"1795717000.{n}"
    started = now - (n % 600)
    number = f"8916{n:07d}"
    channel = Channel(
        f"PJSIP/trunk-{n:08x}", linkedid, linkedid, f"PJSIP/trunk-{n:08x}", "PJSIP/trunk",
        6, number, f"Клиент {n}", "from-trunk", "100", started,
    )  # fmt: skip
    call = Call(linkedid, started, linkedid, channel.leg, {linkedid: channel}, caller_num=number)
    call.caller_name = f"Клиент {n}"
    call.customer_leg = channel.leg
    names = sorted(state.queues)
    queue = names[n % len(names)]
    call.queue = queue
    call.queued_at = started + 2
    state.calls[linkedid] = call
    state.channels[linkedid] = channel
    if answered_by is not None:
        agent = state.agents[answered_by]
        call.answered_at = started + 10
        call.connected_agent = agent.key
        call.agent = agent.key
        agent.calls.add(linkedid)
        agent.state = AgentState.ON_CALL
        agent.state_since = started + 10
    else:
        state.queues[queue].entries[linkedid] = QueueCaller(
            linkedid, linkedid, number, call.caller_name, started + 2
        )
    return call


# --- the supervisors' process -----------------------------------------------------------
async def supervisors(url: str, cookies: list[str]) -> None:
    """Connect every socket; report on stdout when all got a message (`seq full when`)."""
    import websockets

    arrivals: dict[tuple[int, bool], list[float]] = {}
    ready = asyncio.Event()
    connected = 0

    async def one(cookie: str) -> None:
        nonlocal connected
        async with websockets.connect(
            url, additional_headers={"Cookie": f"trubka_session={cookie}"}, max_size=None
        ) as socket:
            connected += 1
            if connected == len(cookies):
                ready.set()
            async for text in socket:
                head = text[:120]
                if '"live_update"' not in head:
                    continue
                full = '"full":true' in head
                seq = int(head.split('"seq":', 1)[1].split(",", 1)[0])
                key = (seq, full)
                times = arrivals.setdefault(key, [])
                times.append(time.time())
                if len(times) == len(cookies):
                    print(json.dumps({"seq": seq, "full": full, "last": max(times),
                                      "size": len(text)}), flush=True)  # fmt: skip

    tasks = [asyncio.create_task(one(c)) for c in cookies]
    await ready.wait()
    print(json.dumps({"connected": len(cookies)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- the server -------------------------------------------------------------------------
async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--queues", type=int, default=6)
    parser.add_argument("--supervisors", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--clients-for", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clients_for:
        await supervisors(args.clients_for, json.loads(sys.stdin.readline()))
        return

    import logging

    import httpx
    import uvicorn

    from crm.users import use_fast_hashing
    from trubka.app import build_app
    from trubka.settings import load_settings

    logging.basicConfig(level=logging.WARNING)
    use_fast_hashing()
    folder = tempfile.mkdtemp(prefix="trubka-fanout-")
    settings = load_settings(
        database_url=f"sqlite:///{folder}/bench.db", ami_enabled=False, agi_enabled=False
    )
    app = build_app(settings)
    services = app.state.services
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    feed = services.supervisor.feed
    assert feed is not None
    feed.interval = 0.0  # measure an update, not the pause between two (0.3 s by default)
    now = time.time()
    busy_state(services.live, args.calls, args.agents, args.queues, now)
    cookies = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(args.supervisors):
            login = f"boss{i}"
            await services.crm.users.create(
                login=login, name=f"Boss {i}", role="supervisor", password=PASSWORD
            )
            http.cookies.clear()
            response = await http.post("/api/session", json={"login": login, "password": PASSWORD})
            response.raise_for_status()
            cookies.append(http.cookies["trubka_session"])
    client = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--clients-for", f"ws://127.0.0.1:{port}/ws",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert client.stdin is not None and client.stdout is not None
    client.stdin.write((json.dumps(cookies) + "\n").encode())
    await client.stdin.drain()
    reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def read_reports() -> None:
        assert client.stdout is not None
        async for line in client.stdout:
            await reports.put(json.loads(line))

    reader = asyncio.create_task(read_reports())
    connected = await asyncio.wait_for(reports.get(), 120)
    # every socket got the whole picture on connect
    welcomes = [await asyncio.wait_for(reports.get(), 120) for _ in range(1)]
    del welcomes
    results: dict[str, dict[str, list[float]]] = {}

    async def round_trip(label: str, trigger: Any) -> None:
        flushed = feed.flushed
        cpu = time.process_time()
        started = time.time()
        trigger()
        await asyncio.wait_for(flushed.wait(), 30)
        report = await asyncio.wait_for(reports.get(), 60)
        while report.get("seq") != feed.seq:  # a stray update (e.g. the periodic one)
            report = await asyncio.wait_for(reports.get(), 60)
        cpu = time.process_time() - cpu
        entry = results.setdefault(label, {"latency": [], "build": [], "cpu": [], "size": []})
        entry["latency"].append(report["last"] - started)
        entry["build"].append(feed.stats.last_build_seconds)
        entry["cpu"].append(cpu)
        entry["size"].append(report["size"])

    extra = args.calls
    for r in range(args.rounds):
        # a caller joins a queue (and the previous extra one leaves)
        def join(r: int = r) -> None:
            nonlocal extra
            call = add_call(services.live, extra, time.time())
            extra += 1
            services.bus.publish(
                [d.CallQueued(call.linkedid, time.time(), call.queue or "", 1, None, None)]
            )

        await round_trip("a caller joins a queue", join)

        def state_change(r: int = r) -> None:
            agent = services.live.agents[f"PJSIP/{2001 + r % args.agents}"]
            agent.state_since = time.time()
            services.bus.publish(
                [d.AgentStateChanged(agent.key, time.time(), "on_call", "on_call", None)]
            )

        await round_trip("an agent's state changes", state_change)

        def burst(r: int = r) -> None:
            events: list[d.DomainEvent] = []
            for i in range(500):
                agent = f"PJSIP/{2001 + (r + i) % args.agents}"
                events.append(d.AgentStateChanged(agent, time.time(), "on_call", "on_call", None))
                events.append(d.QueueChanged(f"queue{i % args.queues}", time.time()))
            services.bus.publish(events)

        builds = feed.stats.builds
        await round_trip("a burst of 1,000 events", burst)
        assert feed.stats.builds == builds + 1, "a burst must cost one build"
        await round_trip("the whole picture", feed.mark_all)

    client.stdin.close()
    await client.wait()
    reader.cancel()
    server.should_exit = True
    await serving
    print(
        f"{args.calls:,} calls in progress, {args.agents} agents, {args.queues} queues; "
        f"{connected['connected']} supervisors on real WebSockets (another process); "
        f"{args.rounds} rounds"
    )
    print(
        f"  {'update':<26} {'size':>9} {'build+json':>12} {'all received':>22} {'server CPU':>11}"
    )
    for label, values in results.items():
        size = statistics.median(values["size"]) / 1024
        build = statistics.median(values["build"]) * 1000
        latency = sorted(values["latency"])
        median = statistics.median(latency) * 1000
        worst = latency[-1] * 1000
        cpu = statistics.median(values["cpu"]) * 1000
        print(
            f"  {label:<26} {size:7.0f} KiB {build:9.1f} ms "
            f"{median:8.1f} ms (max {worst:6.1f}) {cpu:8.1f} ms"
        )
    print(f"  {load()}")


if __name__ == "__main__":
    asyncio.run(main())
