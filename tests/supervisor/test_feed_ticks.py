"""The live feed's quiet ticks: with supervisors watching and nothing new, an update
evaluates no alert and encodes nothing; a limit that passes without an event (a caller
waiting too long) and a change both still reach the watchers within one tick."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from kernel.agents import AFTER_CALL_REASON, AgentState
from kernel.bus import EventBus
from supervisor import feed as feed_module
from supervisor.alerts import AlertThresholds, compute_alerts, evaluate_alerts, next_alert_at
from supervisor.config import ReportConfig
from supervisor.feed import EVENT_KINDS, LiveFeed
from supervisor.reports import TodayFigures
from telephony import domain as d
from telephony.reducer import CallState
from telephony.state import Agent, Membership, Queue, QueueCaller

CONFIG = ReportConfig.create(
    "Europe/Moscow", 20, {}, alerts=AlertThresholds.create(wait_seconds=60)
)
AGENTS = 1000
QUEUES = 10


class Followers:
    def __init__(self) -> None:
        self.broadcasts: list[tuple[float, dict[str, Any]]] = []  # (when, message)

    def follower_count(self) -> int:
        return 1

    def to_followers_text(self, text: str) -> int:
        self.broadcasts.append((time.monotonic(), json.loads(text)))
        return 1

    def to_client_text(self, client: Any, text: str) -> bool:
        return True


def member(queue: str, key: str) -> Membership:
    return Membership(
        queue=queue,
        interface=key,
        state_interface=key,
        name=key,
        status=1,
        paused=False,
        paused_reason="",
        in_call=False,
        calls_taken=0,
        wrapup_time=0,
        penalty=0,
    )


def big_state(now: float) -> CallState:
    """1,000 available agents in 10 queues, nobody waiting."""
    state = CallState()
    for n in range(AGENTS):
        key = f"PJSIP/{1000 + n}"
        name = f"q{n % QUEUES}"
        agent = Agent(key=key, device_state="NOT_INUSE", state_since=now - 100)
        agent.memberships[name] = member(name, key)
        state.agents[key] = agent
        state.queues.setdefault(name, Queue(name)).members.add(key)
    return state


def wait_in(state: CallState, queue: str, linkedid: str, joined_at: float) -> d.CallQueued:
    """A caller joins the queue (the state as the reducer leaves it) and its event."""
    state.queues[queue].entries[linkedid] = QueueCaller(
        linkedid, linkedid, "+74951110001", None, joined_at
    )
    return d.CallQueued(linkedid, joined_at, queue, 1, "+74951110001", None)


class Counted:
    """The alerts' evaluation and encode as the feed calls them, counted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.alerts = 0
        self.encodes = 0
        evaluate, encode = feed_module.evaluate_alerts, feed_module.encode

        def counted_alerts(*args: Any) -> tuple[list[dict[str, Any]], float | None]:
            self.alerts += 1
            return evaluate(*args)

        def counted_encode(message: dict[str, Any]) -> str:
            self.encodes += 1
            return encode(message)

        monkeypatch.setattr(feed_module, "evaluate_alerts", counted_alerts)
        monkeypatch.setattr(feed_module, "encode", counted_encode)


def make_feed(
    state: CallState, clock: Callable[[], float], followers: Followers, interval: float = 0.3
) -> tuple[LiveFeed, EventBus[d.DomainEvent]]:
    bus: EventBus[d.DomainEvent] = EventBus()
    today = TodayFigures.empty(date(2026, 12, 6))

    async def figures(_: float) -> TodayFigures:
        return today

    feed = LiveFeed(
        state,
        CONFIG,
        figures,
        followers,
        bus.subscribe("feed", kinds=EVENT_KINDS),
        interval=interval,
        full_interval=10_000,
        clock=clock,
    )
    return feed, bus


def alert_keys(message: dict[str, Any]) -> list[str]:
    return [a["key"] for a in message["alerts"]]


async def test_a_tick_with_nothing_new_evaluates_and_encodes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_800_000_000.0]
    state = big_state(now[0])
    followers = Followers()
    feed, _ = make_feed(state, lambda: now[0], followers)
    feed.note(wait_in(state, "q3", "call-1", now[0] - 10))  # its limit passes in 50 s
    await feed.flush()  # the whole picture
    counted = Counted(monkeypatch)
    for _ in range(150):  # 45 s of ticks: supervisors watch, nothing happens
        now[0] += 0.3
        await feed.flush()
        # the publisher sleeps until the limit passes (or today's figures are re-read)
        assert now[0] < feed._next_deadline() <= 1_800_000_000.0 + 50
    assert counted.alerts == 0 and counted.encodes == 0
    assert len(followers.broadcasts) == 1 and feed.stats.builds == 1


async def test_a_limit_passing_without_an_event_is_sent_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = 1_800_000_000.0
    now = [start]
    state = big_state(start)
    followers = Followers()
    feed, _ = make_feed(state, lambda: now[0], followers)
    feed.note(wait_in(state, "q3", "call-1", start - 10))
    await feed.flush()
    counted = Counted(monkeypatch)
    now[0] = start + 49.9
    await feed.flush()
    assert counted.alerts == 0 and len(followers.broadcasts) == 1
    now[0] = start + 50  # the caller has waited 60 s: the queue's limit
    await feed.flush()
    assert counted.alerts == 1
    _, delta = followers.broadcasts[-1]
    assert delta["full"] is False and alert_keys(delta) == ["long_wait:call-1"]
    assert delta["alerts"][0]["value"] == 60.0
    # the same alert on the next quiet ticks: nothing more to send or evaluate
    for _ in range(10):
        now[0] += 0.3
        await feed.flush()
    assert counted.alerts == 1 and len(followers.broadcasts) == 2


async def test_a_pause_past_its_limit_is_sent_on_time_by_the_running_feed() -> None:
    """The running feed wakes for the moment a limit passes (no event): here a pause
    with a limit of 1 s, sent within one tick of it."""
    state = big_state(time.time())
    followers = Followers()
    feed, bus = make_feed(state, time.time, followers, interval=0.05)
    feed.config = ReportConfig.create(
        "Europe/Moscow", 20, {}, alerts=AlertThresholds.create(pause_limits={"break": 1})
    )
    running = asyncio.create_task(feed.run())
    try:
        async with asyncio.timeout(5):
            while not followers.broadcasts:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        agent = state.agents["PJSIP/1007"]
        paused, paused_clock = time.time(), time.monotonic()
        for m in agent.memberships.values():
            m.paused, m.paused_reason = True, "break"
        agent.state, agent.state_since = AgentState.PAUSED, paused
        bus.publish([d.AgentStateChanged(agent.key, paused, "paused", "available", "break")])
        alerted = [at for at, m in followers.broadcasts if "long_pause:PJSIP/1007" in alert_keys(m)]
        async with asyncio.timeout(5):
            while not alerted:
                await feed.flushed.wait()
                alerted = [
                    at for at, m in followers.broadcasts if "long_pause:PJSIP/1007" in alert_keys(m)
                ]
        arrived = alerted[0]
        assert arrived >= paused_clock + 1.0 - 0.05  # not before the limit passed
        assert arrived - (paused_clock + 1.0) < 0.5  # a 0.05 s tick, room for a busy machine
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_change_reaches_the_watchers_within_the_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = big_state(time.time())
    followers = Followers()
    feed, bus = make_feed(state, time.time, followers, interval=0.3)
    running = asyncio.create_task(feed.run())
    try:
        async with asyncio.timeout(5):
            while not followers.broadcasts:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        counted = Counted(monkeypatch)
        sent = time.monotonic()
        bus.publish([wait_in(state, "q5", "call-9", time.time())])
        async with asyncio.timeout(5):
            while len(followers.broadcasts) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        at, delta = followers.broadcasts[1]
        assert delta["full"] is False and [q["queue"] for q in delta["queues"]] == ["q5"]
        assert delta["totals"]["waiting"] == 1
        assert at - sent < 0.3 + 0.5  # within the tick (room for a busy machine)
        assert counted.alerts == 1 and counted.encodes == 1
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


def test_one_pass_tells_the_alerts_and_the_next_limit_as_the_two_functions_do() -> None:
    start = 1_800_000_000.0
    state = big_state(start)
    for n, key in enumerate(sorted(state.agents)[:40]):
        agent = state.agents[key]
        reason = AFTER_CALL_REASON if n % 5 == 0 else ("break" if n % 2 else "lunch")
        for m in agent.memberships.values():  # paused, or in wrap-up (after-call work)
            m.paused, m.paused_reason = True, reason
        agent.state_since = start - 20 * n
    state.agents["PJSIP/1990"].device_state = "UNAVAILABLE"
    for n in range(30):
        wait_in(state, f"q{n % QUEUES}", f"call-{n}", start - 7 * n)
    thresholds = AlertThresholds.create(
        wait_seconds=60, queue_wait={"q1": 10}, pause_limits={"break": 300}, wrapup_limit=90
    )
    levels = {"q2": 50.0}.get
    for now in (start, start + 0.5, start + 45, start + 300, start + 5000):
        alerts, due = evaluate_alerts(state, levels, thresholds, now)
        assert alerts == compute_alerts(state, levels, thresholds, now)
        assert due == next_alert_at(state, thresholds, now)
    assert {a["kind"] for a in evaluate_alerts(state, levels, thresholds, start + 300)[0]} == {
        "service_level",
        "long_wait",
        "long_pause",
        "long_wrap_up",
        "unreachable",
    }
