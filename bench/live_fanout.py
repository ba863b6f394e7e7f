"""The cost of one live-view update fanned out to many supervisors.

    python bench/live_fanout.py                  # 2,000 calls in progress, 50 supervisors
    python bench/live_fanout.py --calls 5000 --supervisors 200

One update = build the `/api/live` document from the reducer's state (every queue with
its waiting callers, every agent with its state and current call), serialize it to JSON
once, and put the bytes on each supervisor's bounded queue (a full queue drops its
oldest update: a slow browser never holds up the others). The real WebSocket send is
not included. The machine may be shared: the load average is printed next to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supervisor.config import ReportConfig
from supervisor.live import build_live_view
from supervisor.reports import TodayFigures
from telephony.reducer import CallState
from telephony.state import Agent, AgentState, Call, Channel, Membership, Queue, QueueCaller


def busy_state(calls: int, agents: int, queues: int, now: float) -> CallState:
    """`calls` calls in progress: each agent on one, the rest waiting in the queues."""
    state = CallState()
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
        linkedid = f"1795717000.{n}"
        started = now - (n % 600)
        number = f"8916{n:07d}"
        channel = Channel(
            f"PJSIP/trunk-{n:08x}", linkedid, linkedid, f"PJSIP/trunk-{n:08x}", "PJSIP/trunk",
            6, number, f"Клиент {n}", "from-trunk", "100", started,
        )  # fmt: skip
        call = Call(
            linkedid, started, linkedid, channel.leg, {linkedid: channel}, caller_num=number
        )
        call.caller_name = f"Клиент {n}"
        call.customer_leg = channel.leg
        queue = names[n % queues]
        call.queue = queue
        call.queued_at = started + 2
        state.calls[linkedid] = call
        state.channels[linkedid] = channel
        if n < agents:
            agent = state.agents[f"PJSIP/{2001 + n}"]
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
    return state


async def fan_out(payload: bytes, queues: list[asyncio.Queue[bytes]]) -> None:
    for queue in queues:
        try:
            queue.put_nowait(payload)
        except asyncio.QueueFull:
            queue.get_nowait()  # drop the oldest update for a slow supervisor
            queue.put_nowait(payload)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--queues", type=int, default=6)
    parser.add_argument("--supervisors", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    now = time.time()
    state = busy_state(args.calls, args.agents, args.queues, now)
    config = ReportConfig.create("Europe/Moscow", 20, {})
    today = TodayFigures.empty(date.today())
    supervisors: list[asyncio.Queue[bytes]] = [
        asyncio.Queue(maxsize=8) for _ in range(args.supervisors)
    ]
    build, encode, enqueue, total = [], [], [], []
    size = 0
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        document = build_live_view(state, now, today, config)
        t1 = time.perf_counter()
        payload = json.dumps({"type": "supervisor_live", **document}, ensure_ascii=False).encode()
        t2 = time.perf_counter()
        await fan_out(payload, supervisors)
        t3 = time.perf_counter()
        build.append(t1 - t0)
        encode.append(t2 - t1)
        enqueue.append(t3 - t2)
        total.append(t3 - t0)
        size = len(payload)
    one, five, fifteen = os.getloadavg()
    print(
        f"{args.calls:,} calls in progress, {args.agents} agents, {args.queues} queues, "
        f"{args.supervisors} supervisors; payload {size / 1024:.0f} KiB"
    )
    for label, values in (
        ("build", build),
        ("serialize", encode),
        ("enqueue", enqueue),
        ("one fan-out", total),
    ):
        median, worst = statistics.median(values) * 1000, max(values) * 1000
        print(f"  {label:<12} median {median:7.2f} ms   max {worst:7.2f} ms")
    print(f"  load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    asyncio.run(main())
