"""A catch-up within an hour recomputed in full a moment ago rewrites only the rows its new
calls touch (each still from all of its calls), and the hour is recomputed in full again
after `full_every` seconds, which picks up what no new call points at."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update

from crm.call_records import CallRow
from crm.database import Database
from tests.supervisor.conftest import Reporting, reporting
from tests.supervisor.test_rollups import all_calls, assert_same, direct, generated, stored_hours

HOUR = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)  # 10:00-11:00 in Moscow


def _as(calls: list[Any], agent: str, tag: str) -> list[Any]:
    return [
        dataclasses.replace(c, linkedid=f"{tag}.{i}", agent_interface=agent)
        for i, c in enumerate(calls)
    ]


async def _rolled_up(
    db: Database, count: int, seed: int
) -> tuple[Reporting, list[float], list[Any]]:
    """Calls of one hour stored and rolled up (the hour in full, at `now` 0)."""
    r = reporting(db)
    now = [0.0]
    r.rollups.clock = lambda: now[0]
    calls = generated(count, HOUR, timedelta(minutes=50), seed=seed)
    await r.calls.save(calls)
    await r.rollups.catch_up()
    return r, now, calls


async def test_a_catch_up_rewrites_only_the_rows_of_its_calls(db: Database) -> None:
    r, now, _calls = await _rolled_up(db, 120, seed=11)
    written: list[dict[str, Any]] = []

    def seen(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO report_hours"):
            written.extend(parameters if many else [parameters])

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        now[0] = 5.0
        more = generated(30, HOUR, timedelta(minutes=50), seed=12)
        # agent 101 only (both spellings), and agent 102 as blanks around its name
        later = _as(more[:20], "Local/101@agents/n", "k1") + _as(
            more[20:], " Local/102@agents/n ", "k2"
        )
        await r.calls.save(later)
        assert await r.rollups.catch_up() == 30
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    # the rows of agents 101 and 102 only: not 103's, nor the rows without an agent
    agents = {
        row["agent"] if isinstance(row, dict) else row[3]
        for row in written
        if isinstance(row, dict) or len(row) > 3
    }
    assert agents <= {"Local/101@agents", "Local/102@agents"}, agents
    assert written
    assert_same(
        await stored_hours(db), direct(await all_calls(db), r.config.timezone, {"sales": 30})
    )


async def test_the_hour_in_full_catches_what_no_new_call_points_at(db: Database) -> None:
    r, now, calls = await _rolled_up(db, 80, seed=13)
    # a record replaced in place (the books' record of a call closed blind): same id,
    # below the watermark; no new call points at its row
    changed = next(c for c in calls if c.agent_interface and "103" in c.agent_interface)
    async with db.transaction() as session:
        await session.execute(
            update(CallRow)
            .where(CallRow.linkedid == changed.linkedid)
            .values(agent_interface="Local/104@agents")
        )
    now[0] = 10.0
    await r.calls.save(
        _as(generated(5, HOUR, timedelta(minutes=50), seed=14), "Local/101@agents", "a")
    )
    await r.rollups.catch_up()  # only agent 101's rows
    want = direct(await all_calls(db), r.config.timezone, {"sales": 30})
    assert await stored_hours(db) != want  # 103 and 104 wait for the hour in full
    now[0] = 10.0 + r.rollups.full_every
    await r.calls.save(
        _as(generated(5, HOUR, timedelta(minutes=50), seed=15), "Local/101@agents", "b")
    )
    await r.rollups.catch_up()
    assert_same(
        await stored_hours(db), direct(await all_calls(db), r.config.timezone, {"sales": 30})
    )


async def test_two_nodes_catching_up_at_once_roll_the_calls_up_once(db: Database) -> None:
    """Both nodes are told of the same stored calls: the one that waited for the lock
    finds the watermark moved past them (in the same transaction as the rows) and does
    not recompute them again."""
    if db.dialect != "postgresql":
        pytest.skip("one node only on SQLite")
    a, b = reporting(db), reporting(db)
    calls = generated(200, HOUR, timedelta(hours=2), seed=16)
    await a.calls.save(calls)
    upserts: list[int] = []

    def seen(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO report_hours"):
            upserts.append(1)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await asyncio.gather(a.rollups.catch_up(), b.rollups.catch_up())
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(upserts) == 1
    assert_same(
        await stored_hours(db), direct(await all_calls(db), a.config.timezone, {"sales": 30})
    )
    assert await a.rollups.watermark() == max(row.id for row in await all_calls(db))
