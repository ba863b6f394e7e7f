"""Time per agent state: split at local hours, summed per reason, stored and reported."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from crm.database import Database
from kernel.bus import EventBus
from supervisor.agent_time import AgentTimeRecorder
from supervisor.periods import parse_period
from supervisor.reports import Group
from telephony.domain import AgentStateChanged, DomainEvent
from tests.kit_traces import trace_path
from tests.supervisor.conftest import reporting
from tests.supervisor.kit_dataset import MSK
from tests.supervisor.kit_traces import domain_events

AGENT = "Local/101@agents"


def at(local: str) -> float:
    return datetime.fromisoformat(local).replace(tzinfo=MSK).timestamp()


def change(when: str, state: str, previous: str, reason: str | None = None) -> AgentStateChanged:
    return AgentStateChanged(AGENT, at(when), state, previous, reason)


DAY = [
    change("2026-11-02 09:50:00", "available", "logged_out"),
    change("2026-11-02 12:50:00", "paused", "available", "lunch"),
    change("2026-11-02 13:10:00", "paused", "paused", "training"),  # a new reason
    change("2026-11-02 13:10:00", "paused", "paused", "training"),  # repeated: no-op
    change("2026-11-02 13:20:00", "available", "paused"),
    change("2026-11-02 14:00:00", "logged_out", "available"),
]


async def test_state_time_is_split_per_hour_and_reason(db: Database) -> None:
    r = reporting(db)
    bus: EventBus[DomainEvent] = EventBus()
    recorder = AgentTimeRecorder(
        db, bus.subscribe("agent-time", kinds=[AgentStateChanged]), r.config
    )
    await recorder.write(recorder.apply(DAY))
    assert recorder.open == {}
    day = parse_period("2026-11-02", None)
    [row] = await r.reports.agents(day)
    assert row["agent_interface"] == AGENT
    assert row["available_seconds"] == 3 * 3600 + 40 * 60
    assert row["pause_seconds"] == 30 * 60
    assert row["pause_reasons"] == {"lunch": 1200.0, "training": 600.0}
    assert row["logged_in_seconds"] == 3 * 3600 + 40 * 60 + 30 * 60
    assert row["answered"] == 0 and row["aht_seconds"] is None
    hours = {item["hour"]: item for item in await r.reports.agents(day, group=Group.HOUR)}
    assert hours[9]["available_seconds"] == 600
    assert hours[12]["pause_seconds"] == 600 and hours[12]["available_seconds"] == 3000
    assert hours[13]["pause_seconds"] == 1200
    # the same interval stored twice adds up (upsert), as it must for two halves of an hour
    await recorder.write(
        recorder.apply([change("2026-11-02 15:00:00", "paused", "logged_out", "lunch")])
    )
    await recorder.write(recorder.close_all(at("2026-11-02 15:30:00")))
    [row] = await r.reports.agents(day)
    assert row["pause_reasons"] == {"lunch": 3000.0, "training": 600.0}


async def test_shutdown_stores_queued_changes_and_closes_open_states(db: Database) -> None:
    r = reporting(db)
    bus: EventBus[DomainEvent] = EventBus()
    recorder = AgentTimeRecorder(
        db,
        bus.subscribe("agent-time", kinds=[AgentStateChanged]),
        r.config,
        clock=lambda: at("2026-11-02 13:30:00"),
    )
    bus.publish(DAY[:3])  # still paused ("training") when Trubka stops at 13:30
    await recorder.stop()
    [row] = await r.reports.agents(parse_period("2026-11-02", None))
    assert row["available_seconds"] == 3 * 3600
    assert row["pause_reasons"] == {"lunch": 1200.0, "training": 1200.0}


async def test_state_time_from_a_real_trace(db: Database) -> None:
    """Scenario 07: agent 104 takes a call in `sales`; agent 101 pauses for lunch."""
    path: Path = trace_path("07-queue-member-pause.ami")
    r = reporting(db)
    bus: EventBus[DomainEvent] = EventBus()
    recorder = AgentTimeRecorder(
        db, bus.subscribe("agent-time", kinds=[AgentStateChanged]), r.config
    )
    events, end = domain_events(path)
    closed = recorder.apply(events)
    for key, seconds in recorder.close_all(end).items():
        closed[key] = closed.get(key, 0.0) + seconds
    await recorder.write(closed)
    rows = {
        row["agent_interface"]: row
        for row in await r.reports.agents(parse_period("2026-11-26", None))
    }
    a104 = rows["Local/104@agents"]
    # AgentConnect 18:32:19.7 → AgentComplete 18:32:37.7: 18 s on the call
    assert 17.0 <= a104["on_call_seconds"] <= 19.0
    assert a104["ringing_seconds"] > 0
    assert rows["Local/101@agents"]["pause_reasons"].keys() == {"lunch"}


async def test_stopping_during_a_write_finishes_it_and_loses_no_seconds(db: Database) -> None:
    """The service cancels `run` and then calls `stop`: a write `run` had begun (here
    waiting for another writer's lock) is finished, not cut off, and its seconds and
    the shutdown's are both stored."""
    r = reporting(db)
    bus: EventBus[DomainEvent] = EventBus()
    recorder = AgentTimeRecorder(
        db,
        bus.subscribe("agent-time", kinds=[AgentStateChanged]),
        r.config,
        clock=lambda: at("2026-11-02 15:00:00"),
        linger=0,
    )
    runner = asyncio.create_task(recorder.run())
    bus.publish(DAY[:1])  # available from 09:50
    await asyncio.wait_for(recorder.idle.wait(), 5)
    async with db.transaction() as blocker:  # another writer holds the tables' lock
        if db.dialect == "postgresql":
            await blocker.execute(text("LOCK TABLE agent_state_days IN ACCESS EXCLUSIVE MODE"))
        else:
            await blocker.execute(text("DELETE FROM agent_state_days WHERE agent = 'nobody'"))
        bus.publish(DAY[1:2])  # paused at 12:50: 3 h available closed, a write begins
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not recorder.idle.is_set():
                break
        await asyncio.sleep(0.2)  # the write is waiting for the lock
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    await recorder.stop()  # 12:50-15:00 paused, closed at shutdown
    [row] = await r.reports.agents(parse_period("2026-11-02", None))
    assert row["available_seconds"] == 3 * 3600
    assert row["pause_reasons"] == {"lunch": 2 * 3600 + 10 * 60}
