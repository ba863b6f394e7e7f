"""Live-feed tick benchmark: what one 0.3 s tick of the supervisors' live feed costs the
event loop of the node consuming AMI, with 1,000 agents in 10 queues and 50 callers
waiting (a synthetic live state, built the way tests/supervisor/test_alerts.py does).

Prints the process time (time.process_time) per tick over `--repeat` ticks:

* `rebuild`: the whole picture for one moment (compute_alerts + build + encode);
* `no-change tick`: the publisher's deadline and `LiveFeed.flush()` with a watcher and nothing new;
* `one-change tick`: the same after one agent's state changed.

    python bench/live_feed_tick.py
    python bench/live_feed_tick.py --agents 2000 --repeat 500
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kernel.bus import EventBus  # noqa: E402
from supervisor.alerts import AlertThresholds, compute_alerts  # noqa: E402
from supervisor.config import ReportConfig  # noqa: E402
from supervisor.feed import EVENT_KINDS, LiveFeed, encode  # noqa: E402
from supervisor.live import LiveBuilder  # noqa: E402
from supervisor.reports import TodayFigures  # noqa: E402
from telephony import domain as d  # noqa: E402
from telephony.reducer import CallState  # noqa: E402
from telephony.state import Agent, Membership, Queue, QueueCaller  # noqa: E402

# waits under 10 minutes, pauses under 30: no alert crosses its limit during the run
CONFIG = ReportConfig.create(
    "Europe/Moscow", 20, {}, alerts=AlertThresholds.create(wait_seconds=600)
)
NOW = 1_800_000_000.0
DAY = date(2027, 1, 15)


def synthetic_state(agents: int, queues: int, waiting: int) -> CallState:
    state = CallState()
    names = [f"q{n}" for n in range(queues)]
    for name in names:
        state.queues[name] = Queue(name)
    for n in range(agents):
        key = f"PJSIP/{1000 + n}"
        agent = Agent(key=key, device_state="NOT_INUSE", state_since=NOW - 100 - n)
        for name in (names[n % queues], names[(n + 1) % queues]):
            paused = n % 7 == 0
            agent.memberships[name] = Membership(
                queue=name,
                interface=key,
                state_interface=key,
                name=f"Agent {n}",
                status=1,
                paused=paused,
                paused_reason="lunch" if paused else "",
                in_call=False,
                calls_taken=0,
                wrapup_time=0,
                penalty=0,
            )
            state.queues[name].members.add(key)
        state.agents[key] = agent
    for n in range(waiting):
        queue = state.queues[names[n % queues]]
        queue.entries[f"c{n}"] = QueueCaller(f"c{n}", f"u{n}", f"+7495{n:07d}", None, NOW - n)
    return state


class Followers:
    def __init__(self) -> None:
        self.sent = 0

    def follower_count(self) -> int:
        return 1

    def to_followers_text(self, text: str) -> int:
        self.sent += 1
        return 1

    def to_client_text(self, client: Any, text: str) -> bool:
        return True


def per_tick(seconds: float, repeat: int) -> str:
    return f"{seconds / repeat * 1000:.2f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=10)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    state = synthetic_state(args.agents, args.queues, args.calls)
    today = TodayFigures.empty(DAY)

    started = time.process_time()
    for _ in range(args.repeat):
        compute_alerts(state, lambda q: None, CONFIG.alerts, NOW)
        encode(LiveBuilder(state, NOW, today, CONFIG).build())
    rebuild = per_tick(time.process_time() - started, args.repeat)
    print("rebuild (compute_alerts + build + encode):", rebuild)

    now = [NOW]

    async def figures(_: float) -> TodayFigures:
        return today

    bus: EventBus[d.DomainEvent] = EventBus()
    followers = Followers()
    feed = LiveFeed(
        state,
        CONFIG,
        figures,
        followers,
        bus.subscribe("bench", kinds=EVENT_KINDS),
        clock=lambda: now[0],
        full_interval=1e9,
    )
    await feed.flush()  # the whole picture first
    started = time.process_time()
    for _ in range(args.repeat):
        now[0] += 0.3
        feed._next_deadline()  # the publisher's wait before the tick
        await feed.flush()
    print("no-change tick (flush):", per_tick(time.process_time() - started, args.repeat))

    keys = sorted(state.agents)
    started = time.process_time()
    for n in range(args.repeat):
        now[0] += 0.3
        key = keys[n % len(keys)]
        feed.note(d.AgentStateChanged(key, now[0], "available", "available", None))
        feed._next_deadline()
        await feed.flush()
    print("one-change tick (flush):", per_tick(time.process_time() - started, args.repeat))
    print("broadcasts:", followers.sent, "builds:", feed.stats.builds)


if __name__ == "__main__":
    asyncio.run(main())
