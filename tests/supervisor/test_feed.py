"""The live feed on real traces: what a delta carries, one build per burst, the whole
picture for a new socket, scheduled wrap-up ends, today's figures and the day change."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

from kernel.agents import AgentState
from kernel.bus import EventBus
from screenpop.hub import Client, Hub
from supervisor.config import ReportConfig
from supervisor.feed import EVENT_KINDS, LiveFeed
from supervisor.reports import TodayFigures
from telephony import domain as d
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState, ReducerConfig
from telephony.replay import load_index
from tests.kit_traces import trace_path

CONFIG = ReportConfig.create("Europe/Moscow", 20, {})


class Followers:
    """The feed's port, kept in memory: what went to everyone, what to one socket."""

    def __init__(self) -> None:
        self.broadcasts: list[dict[str, Any]] = []
        self.direct: list[tuple[Any, dict[str, Any]]] = []
        self.count = 1

    def follower_count(self) -> int:
        return self.count

    def to_followers_text(self, text: str) -> int:
        self.broadcasts.append(json.loads(text))
        return 1

    def to_client_text(self, client: Any, text: str) -> bool:
        self.direct.append((client, json.loads(text)))
        return True


class Today:
    def __init__(self, figures: TodayFigures) -> None:
        self.figures = figures
        self.reads = 0

    async def __call__(self, now: float) -> TodayFigures:
        self.reads += 1
        return self.figures


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def chunks(name: str) -> Iterator[tuple[float, list[d.DomainEvent], CallState]]:
    """The trace read by read: the moment, its domain events, the (shared) state."""
    path = trace_path(name)
    data = path.read_bytes()
    index = load_index(path)
    assert index
    pipeline = EventPipeline(state=CallState(config=ReducerConfig()))
    for at, offset, length in index:
        yield at, pipeline.feed(data[offset : offset + length], at), pipeline.state


def make_feed(
    state: CallState, at: float, today: TodayFigures | None = None
) -> tuple[LiveFeed, Followers, Clock, Today]:
    bus: EventBus[d.DomainEvent] = EventBus()
    followers = Followers()
    clock = Clock(at)
    source = Today(today or TodayFigures.empty(date(2026, 11, 26)))
    feed = LiveFeed(
        state,
        CONFIG,
        source,
        followers,
        bus.subscribe("feed", kinds=EVENT_KINDS),
        clock=clock,
        full_interval=10_000,
    )
    return feed, followers, clock, source


async def test_deltas_carry_what_changed_and_a_burst_costs_one_build() -> None:
    reads = chunks("05-load-20-calls.ami")
    at, events, state = next(reads)
    feed, followers, clock, _ = make_feed(state, at)
    await feed.flush()  # the first update is the whole picture
    [first] = followers.broadcasts
    assert first["full"] is True and first["seq"] == 1
    noted = 0
    for moment, events, _ in reads:  # the whole load test: 20 calls, hundreds of events
        for event in events:
            feed.note(event)
            noted += 1
        clock.now = moment
    await feed.flush()
    assert noted > 200
    assert feed.stats.builds == 2  # one build for the whole burst
    delta = followers.broadcasts[-1]
    assert delta["full"] is False and delta["seq"] == 2
    assert {q["queue"] for q in delta["queues"]} == {"support"}
    assert {a["interface"] for a in delta["agents"]} >= {"Local/101@agents"}
    assert delta["totals"]["calls_in_progress"] == 0
    # nothing changed since: no message at all
    await feed.flush()
    assert len(followers.broadcasts) == 2


async def test_nothing_is_built_while_nobody_watches() -> None:
    reads = chunks("01-queue-answered.ami")
    at, _, state = next(reads)
    feed, followers, clock, _ = make_feed(state, at)
    followers.count = 0
    for moment, events, _ in reads:
        for event in events:
            feed.note(event)
        clock.now = moment
        await feed.flush()
    assert feed.stats.builds == 0 and followers.broadcasts == []
    followers.count = 1
    feed.welcome("socket-1")  # the socket is registered with the hub first, then welcomed
    await feed.flush()
    assert feed.stats.builds == 1 and feed.stats.full_builds == 1
    [whole] = followers.broadcasts
    assert whole["full"] is True and whole["totals"]["calls_in_progress"] == 0


async def test_an_idle_feed_sleeps_until_someone_connects() -> None:
    """With nobody watching the publisher waits for a wake-up, even with no pause between
    updates and today's deadlines long past (it used to spin and starve the loop)."""
    at, _, state = next(chunks("01-queue-answered.ami"))
    feed, followers, _, _ = make_feed(state, at)
    followers.count = 0
    feed.interval = 0.0
    flushes = 0
    flush = feed.flush

    async def counted() -> None:
        nonlocal flushes
        flushes += 1
        if flushes > 100:
            raise RuntimeError("spinning")  # the feed logs it and yields: the test goes on
        await flush()

    feed.flush = counted  # type: ignore[method-assign]
    running = asyncio.create_task(feed.run())
    for _ in range(50):
        await asyncio.sleep(0)
    assert flushes == 0
    followers.count = 1
    feed.welcome("socket-1")
    async with asyncio.timeout(5):
        while not followers.direct and not followers.broadcasts:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert flushes == 1
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running


async def test_a_new_socket_gets_the_whole_picture_of_the_same_moment() -> None:
    reads = chunks("01-queue-answered.ami")
    at, _, state = next(reads)
    feed, followers, clock, _ = make_feed(state, at)
    await feed.flush()
    for moment, events, _ in reads:
        for event in events:
            feed.note(event)
        clock.now = moment
        if any(isinstance(e, d.CallQueued) for e in events):
            break
    feed.welcome("socket-1")
    await feed.flush()
    [(client, whole)] = followers.direct
    delta = followers.broadcasts[-1]
    assert client == "socket-1" and whole["full"] is True
    assert whole["seq"] == delta["seq"] == 2  # the new socket skips this delta
    [queue] = [q for q in whole["queues"] if q["queue"] == "support"]
    assert [w["position"] for w in queue["waiting"]] == [1]


async def test_wrap_up_that_runs_out_is_sent_without_an_event() -> None:
    reads = chunks("01-queue-answered.ami")
    at, _, state = next(reads)
    feed, followers, clock, _ = make_feed(state, at)
    await feed.flush()
    for moment, events, _ in reads:
        for event in events:
            feed.note(event)
        clock.now = at = moment
    agent = state.agents["Local/101@agents"]
    # as if queues.conf had wrapuptime=5: the agent is in wrap-up after the call
    agent.state, agent.state_since, agent.wrapup_until = AgentState.WRAP_UP, at, at + 5.0
    feed.note(d.AgentStateChanged(agent.key, at, "wrap_up", "on_call", None))
    await feed.flush()
    assert [a["state"] for a in followers.broadcasts[-1]["agents"]] == ["wrap_up"]
    assert feed._next_deadline() == at + 5.0
    clock.now = at + 5.0
    await feed.flush()
    last = followers.broadcasts[-1]
    assert [a["state"] for a in last["agents"]] == ["available"]
    assert last["agents"][0]["state_since"] == last["generated_at"]


async def test_only_the_queues_whose_figures_changed_are_sent() -> None:
    *_, (at, _, state) = chunks("05-load-20-calls.ami")
    day = date(2026, 11, 26)
    today = TodayFigures(day, {"support": {"queue": "support", "offered": 1}}, {})
    feed, followers, clock, source = make_feed(state, at, today)
    await feed.flush()
    source.figures = TodayFigures(
        day,
        {"support": {"queue": "support", "offered": 2}, "sales": {"queue": "sales", "offered": 1}},
        {},
    )
    feed.today_changed()
    await feed.flush()
    delta = followers.broadcasts[-1]
    assert delta["full"] is False
    assert [(q["queue"], q["today"]["offered"]) for q in delta["queues"]] == [
        ("sales", 1),
        ("support", 2),
    ]
    # the next day: everyone gets the whole picture again
    source.figures = TodayFigures(date(2026, 11, 27), {}, {})
    clock.now = at + 86_400
    assert feed._next_deadline() <= clock.now  # local midnight came
    await feed.flush()
    assert followers.broadcasts[-1]["full"] is True
    assert followers.broadcasts[-1]["day"] == "2026-11-27"


async def test_one_serialization_for_every_supervisor_and_agents_get_none() -> None:
    hub = Hub()
    sent: list[tuple[int, str]] = []

    def client(user_id: int, role: str) -> Client:
        async def send(text: str) -> None:
            sent.append((user_id, text))

        async def close(code: int, reason: str) -> None:
            return None

        return Client(user_id, role, send, close, follow_all=role != "agent")

    supervisors = [client(i, "supervisor") for i in range(5)]
    agent = client(99, "agent")
    for c in (*supervisors, agent):
        hub.register(c)
    bus: EventBus[d.DomainEvent] = EventBus()
    reads = chunks("01-queue-answered.ami")
    _, _, state = next(reads)
    feed = LiveFeed(
        state,
        CONFIG,
        Today(TodayFigures.empty(date(2026, 11, 26))),
        hub,
        bus.subscribe("feed", kinds=EVENT_KINDS),
        interval=0.05,
    )
    task = asyncio.create_task(feed.run())
    try:
        first = feed.flushed
        await asyncio.wait_for(first.wait(), 5)
        texts = [c.queue.get_nowait() for c in supervisors]
        assert all(t is texts[0] for t in texts)  # the very same string object
        assert agent.queue.empty()
        batch = [e for _, events, _ in reads for e in events]
        waiting = feed.flushed
        bus.publish(batch)  # a burst: one update
        await asyncio.wait_for(waiting.wait(), 5)
        assert feed.stats.builds == 2 and feed.stats.deltas == 1
        assert all(c.queue.qsize() == 1 for c in supervisors) and agent.queue.empty()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
