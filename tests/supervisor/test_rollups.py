"""The rollups equal a direct computation from `calls`, however the calls arrive."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm.call_records import CallRow
from crm.call_writer import CallWriter
from crm.database import Database
from crm.events import BusEvent, CallsStored
from kernel.agents import interface_key
from kernel.bus import EventBus
from kernel.consumer import Consumer
from supervisor.figures import Totals
from supervisor.periods import ReportPeriod
from supervisor.reports import Group
from supervisor.rollup_queries import days_from_hours, row_values, upsert_hours
from supervisor.rollup_tables import ReportDay, ReportHour
from telephony.domain import CallEnded
from telephony.records import CallRecord, Direction, Disposition
from tests.supervisor.conftest import reporting

DISPOSITIONS = ["answered", "answered", "answered", "abandoned", "no-answer", "busy", "failed"]


def generated(count: int, start: datetime, span: timedelta, seed: int) -> list[CallRecord]:
    """Calls of every kind, at random moments (to the microsecond) of a span."""
    rng = random.Random(seed)
    calls = []
    for n in range(count):
        started = start + timedelta(seconds=rng.random() * span.total_seconds())
        direction = rng.choice(["inbound", "inbound", "inbound", "outbound", "internal"])
        queue = rng.choice(["support", "sales", None]) if direction != "outbound" else None
        disposition = rng.choice(DISPOSITIONS)
        agent = (
            rng.choice(["101", "102", "103"])
            if disposition == "answered" or direction == "outbound"
            else None
        )
        iface = (
            None
            if agent is None
            else rng.choice([f"Local/{agent}@agents/n", f"Local/{agent}@agents"])
        )
        hold = rng.choice([None, rng.randrange(0, 60), 20, 30]) if queue else None
        wait = rng.random() * 50
        talk = rng.random() * 300 if disposition == "answered" else 0.0
        calls.append(
            CallRecord(
                linkedid=f"g{seed}.{n}",
                direction=Direction(direction),
                caller_number=f"+7495{n:07d}",
                caller_name=None,
                called_number=None,
                queue=queue,
                agent_interface=iface,
                agent_name=f"Agent {agent}" if agent else None,
                started_at=started.timestamp(),
                answered_at=started.timestamp() + wait if disposition == "answered" else None,
                ended_at=started.timestamp() + wait + talk,
                wait_seconds=wait,
                talk_seconds=talk,
                disposition=Disposition(disposition),
                queue_hold_seconds=hold,
                queue_talk_seconds=int(talk)
                if hold is not None and disposition == "answered"
                else None,
            )
        )
    return calls


def direct(
    rows: list[CallRow], tz: ZoneInfo, levels: dict[str, int]
) -> dict[tuple[Any, ...], Totals]:
    """The reference: one call at a time, straight from the stored rows."""
    out: dict[tuple[Any, ...], Totals] = {}
    for row in rows:
        local = row.started_at.astimezone(tz)
        queue = row.queue or ""
        agent = interface_key(row.agent_interface) if row.agent_interface else ""
        hold = float(
            row.queue_hold_seconds if row.queue_hold_seconds is not None else row.wait_seconds
        )
        talk = float(
            row.queue_talk_seconds if row.queue_talk_seconds is not None else row.talk_seconds
        )
        totals = out.setdefault((local.date(), local.hour, queue, agent), Totals())
        totals.add_calls(
            queue=queue,
            direction=row.direction,
            disposition=row.disposition,
            has_agent=bool(agent),
            within_sl=hold <= levels.get(queue, 20),
            hold=hold,
            talk=talk,
        )
    return {k: v for k, v in out.items() if v != Totals()}


async def stored_hours(db: Database) -> dict[tuple[Any, ...], Totals]:
    async with db.session() as session:
        rows = (await session.scalars(select(ReportHour))).all()
    out = {}
    for r in rows:
        totals = Totals(**{name: getattr(r, name) for name in Totals.column_names()})
        if totals != Totals():
            out[(r.day, r.hour, r.queue, r.agent)] = totals
    return out


def assert_same(got: dict[tuple[Any, ...], Totals], want: dict[tuple[Any, ...], Totals]) -> None:
    assert set(got) == set(want)
    for key, expected in want.items():
        actual = got[key]
        for name in Totals.column_names():
            a, b = getattr(actual, name), getattr(expected, name)
            assert a == pytest.approx(b, abs=1e-6), (key, name, a, b)


async def all_calls(db: Database) -> list[CallRow]:
    async with db.session() as session:
        return list((await session.scalars(select(CallRow))).all())


@pytest.mark.parametrize(
    ("timezone", "start"),
    [
        ("Europe/Moscow", datetime(2026, 11, 1, 18, 0, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2026, 10, 24, 20, 0, tzinfo=UTC)),  # DST ends: 02:00 twice
        ("Europe/Berlin", datetime(2026, 3, 28, 20, 0, tzinfo=UTC)),  # DST starts: no 02:00
        ("Asia/Kolkata", datetime(2026, 11, 1, 17, 0, tzinfo=UTC)),  # +05:30
    ],
)
async def test_rollups_equal_a_direct_computation(
    db: Database, timezone: str, start: datetime
) -> None:
    levels = {"sales": 30}
    r = reporting(db, timezone, levels)
    calls = generated(400, start, timedelta(hours=40), seed=1)
    # stored in several batches, some twice, rolled up after each (as the call writer does)
    for i in range(0, len(calls), 200):
        batch = calls[i : i + 200]
        await r.calls.save(batch)
        await r.rollups.after_save(batch)
        await r.calls.save(calls[: i + 10])
        await r.rollups.after_save(calls[: i + 10])
    tz = ZoneInfo(timezone)
    want = direct(await all_calls(db), tz, levels)
    assert sum(t.offered + t.outbound + t.unanswered + t.answered for t in want.values()) > 300
    assert_same(await stored_hours(db), want)
    # a rebuild of every day gives the same rows
    first = start.astimezone(tz).date() - timedelta(days=1)
    period = ReportPeriod(first, first + timedelta(days=4))
    await r.rollups.rebuild(period)
    assert_same(await stored_hours(db), want)
    # the daily rollup is the sum of the hours; reports read it
    async with db.session() as session:
        days = (await session.scalars(select(ReportDay))).all()
    summed: dict[tuple[Any, ...], Totals] = {}
    for (day, _hour, queue, agent), totals in want.items():
        summed.setdefault((day, queue, agent), Totals()).add(totals)
    assert_same(
        {
            (d.day, d.queue, d.agent): Totals(**{n: getattr(d, n) for n in Totals.column_names()})
            for d in days
            if Totals(**{n: getattr(d, n) for n in Totals.column_names()}) != Totals()
        },
        summed,
    )
    # per queue: the queues' calls; combined (the day's totals): every customer call once,
    # the inbound calls routed outside queues included
    queued = sum(t.offered for key, t in want.items() if key[2])
    everyone = sum(t.offered for t in want.values())
    assert everyone > queued  # the data set has routed calls
    hourly = await r.reports.queues(period, group=Group.HOUR)
    assert sum(row["offered"] for row in hourly) == queued
    assert sum(row["offered"] for row in await r.reports.queues(period)) == queued
    combined = await r.reports.queues(period, group=Group.HOUR, combined=True)
    assert sum(row["offered"] for row in combined) == everyone


async def test_call_writer_keeps_the_rollups_up_to_date(db: Database) -> None:
    r = reporting(db)
    bus: EventBus[BusEvent] = EventBus()
    writer = CallWriter(
        r.calls, bus.subscribe("call-writer", kinds=[CallEnded]), bus.publish, batch_size=7
    )

    async def roll_up(event: CallsStored) -> None:
        await r.rollups.after_save(event.records)

    rollups = Consumer(bus.subscribe("rollups", kinds=[CallsStored]), roll_up)
    tasks = [asyncio.create_task(writer.run()), asyncio.create_task(rollups.run())]
    try:
        calls = generated(60, datetime(2026, 11, 2, 6, 0, tzinfo=UTC), timedelta(hours=10), seed=2)
        bus.publish(CallEnded(c) for c in calls)
        bus.publish(CallEnded(c) for c in calls[:20])  # published twice: counted once
        await writer.drain()
        await rollups.drain()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert writer.saved == 60
    assert_same(
        await stored_hours(db), direct(await all_calls(db), r.config.timezone, {"sales": 30})
    )
    assert await r.rollups.watermark() == max(row.id for row in await all_calls(db))


async def test_the_background_maintainer_never_holds_up_the_writer(db: Database) -> None:
    r = reporting(db)
    r.rollups.min_interval = 0.2  # throttled as in production, at a test's pace
    early = generated(30, datetime(2026, 11, 2, 6, 0, tzinfo=UTC), timedelta(hours=5), seed=6)
    await r.calls.save(early)  # stored while Trubka was down
    bus: EventBus[BusEvent] = EventBus()
    writer = CallWriter(
        r.calls, bus.subscribe("call-writer", kinds=[CallEnded]), bus.publish, batch_size=5
    )

    async def wake(event: CallsStored) -> None:
        await r.rollups.notify(event.records)

    waker = Consumer(bus.subscribe("rollups", kinds=[CallsStored]), wake)
    tasks = [
        asyncio.create_task(writer.run()),
        asyncio.create_task(waker.run()),
        asyncio.create_task(r.rollups.run()),
    ]
    try:
        calls = generated(40, datetime(2026, 11, 2, 9, 0, tzinfo=UTC), timedelta(hours=8), seed=7)
        bus.publish(CallEnded(c) for c in calls)
        await writer.drain()
        await waker.drain()
        async with asyncio.timeout(10):
            await r.rollups.settled()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert_same(
        await stored_hours(db), direct(await all_calls(db), r.config.timezone, {"sales": 30})
    )
    assert await r.rollups.watermark() == len(early) + len(calls)


async def test_calls_stored_while_away_are_rolled_up_at_start(db: Database) -> None:
    r = reporting(db)
    calls = generated(40, datetime(2026, 11, 2, 6, 0, tzinfo=UTC), timedelta(hours=30), seed=3)
    await r.calls.save(calls)  # e.g. by `trubka seed`, or before the hook ran
    assert await stored_hours(db) == {}
    assert await r.rollups.catch_up() == 40
    assert_same(
        await stored_hours(db), direct(await all_calls(db), r.config.timezone, {"sales": 30})
    )


async def test_a_new_time_zone_rebuilds_the_rollups(db: Database) -> None:
    moscow = reporting(db, "Europe/Moscow")
    calls = generated(50, datetime(2026, 11, 2, 19, 0, tzinfo=UTC), timedelta(hours=8), seed=4)
    await moscow.calls.save(calls)
    await moscow.rollups.catch_up()
    berlin = reporting(db, "Europe/Berlin")
    await berlin.rollups.catch_up()
    assert_same(
        await stored_hours(db),
        direct(await all_calls(db), ZoneInfo("Europe/Berlin"), {"sales": 30}),
    )


async def test_a_changed_threshold_applies_to_the_past_after_a_rebuild(db: Database) -> None:
    old = reporting(db, levels={})
    calls = generated(80, datetime(2026, 11, 2, 6, 0, tzinfo=UTC), timedelta(hours=6), seed=5)
    await old.calls.save(calls)
    await old.rollups.catch_up()
    period = ReportPeriod(date(2026, 11, 2), date(2026, 11, 2))
    before = {row["queue"]: row for row in await old.reports.queues(period)}
    assert before["sales"]["sl_threshold_seconds"] == 20
    new = reporting(db, levels={"sales": 30})
    await new.rollups.rebuild(period)
    after = {row["queue"]: row for row in await new.reports.queues(period)}
    assert after["sales"]["sl_threshold_seconds"] == 30
    assert after["sales"]["answered_within_sl"] >= before["sales"]["answered_within_sl"]
    assert after["support"] == before["support"]


async def test_rows_written_again_replace_the_rows_there(db: Database) -> None:
    """The hourly and daily writes are upserts: a refresh of the same hours by another
    process in between is overwritten, not a failed transaction."""
    r = reporting(db)
    calls = generated(60, datetime(2026, 11, 2, 6, 0, tzinfo=UTC), timedelta(hours=6), seed=8)
    await r.calls.save(calls)
    await r.rollups.catch_up()
    want = await stored_hours(db)
    day = date(2026, 11, 2)
    async with db.transaction() as session:
        rows = await r.rollups.aggregator.aggregate(
            session, datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
        )
        doubled = []
        for key, row in rows.items():
            values = row_values(key, row)
            doubled.append({**values, "offered": values["offered"] * 2})
        connection = await session.connection()
        await connection.execute(upsert_hours(db.dialect), doubled)  # the rows are there
        await session.execute(days_from_hours(db.dialect), {"days": [day]})  # so are the days
    got = await stored_hours(db)
    assert set(got) == set(want)
    assert {k: t.offered for k, t in got.items()} == {k: t.offered * 2 for k, t in want.items()}
    async with db.session() as session:
        days = (await session.scalars(select(ReportDay).where(ReportDay.day == day))).all()
    assert sum(d.offered for d in days) == 2 * sum(t.offered for t in want.values()) > 0
    await r.rollups.rebuild(ReportPeriod(day, day))
    assert_same(await stored_hours(db), want)


async def test_two_processes_refreshing_the_same_days_agree(db: Database) -> None:
    first, second = reporting(db), reporting(db)  # each with its own lock, as two processes
    calls = generated(200, datetime(2026, 11, 2, 6, 0, tzinfo=UTC), timedelta(hours=30), seed=9)
    await first.calls.save(calls)
    period = ReportPeriod(date(2026, 11, 2), date(2026, 11, 3))
    await asyncio.gather(first.rollups.rebuild(period), second.rollups.rebuild(period))
    assert_same(
        await stored_hours(db), direct(await all_calls(db), first.config.timezone, {"sales": 30})
    )
