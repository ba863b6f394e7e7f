"""Report speed on many call records: seed, build the rollups, time a month's reports.

    python bench/reports.py                 # 300,000 calls over 3 months, SQLite (+ PostgreSQL
                                            # when TRUBKA_TEST_PG_URL is set)
    python bench/reports.py --full          # 10,000,000 calls, as the issue asks
    python bench/reports.py --calls 2000000 --backend sqlite

Agent state time (pause, wrap-up …) is seeded too, for every agent and working hour.
Prints the seeding time, the rollup build time, and for a month (the busiest full
month of the seeded range) the queue report and the per-agent report, each timed cold
(first run) and warm (best of 5). Target: ≤ 1 s each. The machine may be shared: the
load average is printed next to the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm.database import Database, upgrade
from supervisor.config import ReportConfig
from supervisor.periods import ReportPeriod
from supervisor.reports import Group, ReportService
from supervisor.rollups import RollupStore

COLUMNS = [
    "linkedid", "direction", "caller_number", "caller_name", "called_number", "queue",
    "agent_interface", "agent_name", "started_at", "answered_at", "ended_at", "wait_seconds",
    "talk_seconds", "disposition", "routed_by", "routing_reason", "recording_file",
    "queue_hold_seconds", "queue_talk_seconds", "agents", "contact_id", "ended_during_outage",
    "timeline",
]  # fmt: skip
QUEUES = ["support", "sales", "billing", "vip", "tech", "retention"]
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 20, 40, 50, 50, 45, 45, 50, 50, 45, 40, 25, 12, 8, 5, 3, 2]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def generate(
    count: int, start: date, days: int, agents: int, seed: int = 7
) -> Iterator[tuple[Any, ...]]:
    """Call rows in time order, spread over the days with a business-hours profile."""
    rng = random.Random(seed)
    hours = list(range(24))
    agent_ifaces = [f"PJSIP/{2001 + i}" for i in range(agents)]
    base = datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(hours=3)
    per_day = count / days
    made = 0
    for day in range(days):
        n = round(per_day * (day + 1)) - made
        moments = sorted(
            base + timedelta(days=day, hours=h, seconds=rng.random() * 3600)
            for h in rng.choices(hours, HOUR_WEIGHTS, k=n)
        )
        for started in moments:
            made += 1
            linkedid = f"{int(started.timestamp())}.{made}"
            kind = rng.random()
            agent = rng.choice(agent_ifaces)
            number = f"+7495{rng.randrange(10**7):07d}"
            hold = rng.randrange(0, 90)
            talk = rng.randrange(20, 600)
            queue: str | None = rng.choice(QUEUES)
            direction = "inbound"
            called = "+74950000000"
            if kind < 0.72:
                disposition, answered_after = "answered", hold
            elif kind < 0.86:
                disposition, answered_after, agent, talk = "abandoned", None, None, 0
            elif kind < 0.90:
                disposition, answered_after, queue, hold = (
                    "answered",
                    rng.randrange(2, 15),
                    None,
                    None,
                )
            else:
                direction, queue, hold = "outbound", None, None
                called, number = number, agent.split("/")[1]
                answered = rng.random() < 0.7
                disposition, answered_after = ("answered", 8) if answered else ("no-answer", None)
                if not answered:
                    talk = 0
            answered_at = (
                started + timedelta(seconds=answered_after) if answered_after is not None else None
            )
            wait = float(answered_after if answered_after is not None else (hold or 30))
            ended = (answered_at or started + timedelta(seconds=wait)) + timedelta(seconds=talk)
            name = f"Agent {agent.split('/')[1]}" if agent else None
            queue_talk = talk if (queue and disposition == "answered") else None
            yield (
                linkedid, direction, number, None, called, queue, agent, name, started,
                answered_at, ended, wait + rng.random(), float(talk), disposition,
                "queue" if queue else None, None, None, hold, queue_talk, "[]", None, False, "[]",
            )  # fmt: skip


STATES = [
    ("available", ""),
    ("on_call", ""),
    ("wrap_up", ""),
    ("paused", "lunch"),
    ("paused", "training"),
]
STATE_COLUMNS = ["day", "hour", "agent", "state", "reason", "seconds"]


def agent_hours(start: date, days: int, agents: int, seed: int = 11) -> Iterator[tuple[Any, ...]]:
    """Time per state for every agent and working hour (as the state recorder stores it)."""
    rng = random.Random(seed)
    for d in range(days):
        day = start + timedelta(days=d)
        for hour in range(8, 21):
            for a in range(agents):
                left = 3600.0
                for state, reason in STATES:
                    seconds = rng.random() * left / 2
                    left -= seconds
                    yield (day, hour, f"PJSIP/{2001 + a}", state, reason, seconds)


def month_of(start: date, days: int) -> ReportPeriod:
    """The first full calendar month inside the seeded range (or the whole range)."""
    first = (
        date(start.year + (start.month // 12), start.month % 12 + 1, 1) if start.day > 1 else start
    )
    nxt = date(first.year + (first.month // 12), first.month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    if (last - start).days >= days:  # a short range: report over all of it
        return ReportPeriod(start, start + timedelta(days=days - 1))
    return ReportPeriod(first, last)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def seed_sqlite(path: Path, count: int, start: date, days: int, agents: int) -> float:
    began = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1048576")
    sql = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    batch: list[tuple[Any, ...]] = []
    for row in generate(count, start, days, agents):
        batch.append(tuple(_sqlite_value(v) for v in row))
        if len(batch) == 50_000:
            conn.executemany(sql, batch)
            conn.commit()
            batch.clear()
    if batch:
        conn.executemany(sql, batch)
    conn.executemany(
        f"INSERT INTO agent_state_hours ({', '.join(STATE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
        ((d.isoformat(), *rest) for d, *rest in agent_hours(start, days, agents)),
    )
    conn.execute(
        "INSERT INTO agent_state_days (day, agent, state, reason, seconds) "
        "SELECT day, agent, state, reason, SUM(seconds) FROM agent_state_hours "
        "GROUP BY day, agent, state, reason"
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - began


async def seed_postgres(url: str, count: int, start: date, days: int, agents: int) -> float:
    import asyncpg  # type: ignore[import-untyped]

    began = time.perf_counter()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        batch: list[tuple[Any, ...]] = []
        for row in generate(count, start, days, agents):
            batch.append(row)
            if len(batch) == 100_000:
                await conn.copy_records_to_table("calls", records=batch, columns=COLUMNS)
                batch.clear()
        if batch:
            await conn.copy_records_to_table("calls", records=batch, columns=COLUMNS)
        await conn.copy_records_to_table(
            "agent_state_hours",
            records=list(agent_hours(start, days, agents)),
            columns=STATE_COLUMNS,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - began


async def timed(label: str, work: Any, runs: int = 5) -> list[dict[str, Any]]:
    times = []
    result: list[dict[str, Any]] = []
    for _ in range(runs):
        began = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - began)
    cold, warm = times[0], min(times[1:])
    print(f"  {label:<38} cold {cold:7.3f} s   warm {warm:7.3f} s   ({len(result)} rows)")
    return result


async def measure(url: str, period: ReportPeriod, config: ReportConfig) -> None:
    db = Database(url)
    try:
        store = RollupStore(db, config)
        began = time.perf_counter()
        await store.rebuild_all()
        print(f"  rollups built from calls in {time.perf_counter() - began:7.1f} s")
        if db.dialect == "sqlite":
            async with db.engine.begin() as conn:
                from sqlalchemy import text

                await conn.execute(text("ANALYZE"))
        reports = ReportService(db, config)
        print(f"  report period {period.start} … {period.end} ({config.timezone.key}):")
        rows = await timed("queue report", lambda: reports.queues(period))
        await timed("per-agent report", lambda: reports.agents(period))
        await timed("queue report per day", lambda: reports.queues(period, group=Group.DAY))
        await timed("per-agent report per day", lambda: reports.agents(period, group=Group.DAY))
        total = sum(r["offered"] for r in rows)
        print(f"  queue calls in the period: {total:,}; {load()}")
        await incremental(db, store, period)
    finally:
        await db.dispose()


async def incremental(db: Database, store: RollupStore, period: ReportPeriod) -> None:
    """What the call writer's hook costs: 200 more calls stored, their hours recomputed."""
    from crm.call_records import CallStore
    from telephony.records import CallRecord, Direction, Disposition

    base = datetime(period.end.year, period.end.month, period.end.day, 9, tzinfo=UTC)
    records = [
        CallRecord(
            linkedid=f"bench-extra-{uuid.uuid4().hex}", direction=Direction.INBOUND,
            caller_number="+74951234567", caller_name=None, called_number=None, queue="support",
            agent_interface="PJSIP/2001", agent_name="Agent 2001",
            started_at=(base + timedelta(seconds=18 * i)).timestamp(), answered_at=None,
            ended_at=(base + timedelta(seconds=18 * i + 30)).timestamp(), wait_seconds=30.0,
            talk_seconds=0.0, disposition=Disposition.ABANDONED, queue_hold_seconds=30,
        )
        for i in range(200)
    ]  # fmt: skip
    await CallStore(db).save(records)
    began = time.perf_counter()
    await store.catch_up()
    seconds = time.perf_counter() - began
    print(f"  200 more calls (one hour) rolled up in {seconds:.3f} s (the call writer's hook)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300_000)
    parser.add_argument("--full", action="store_true", help="10,000,000 calls over 4 months")
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite file goes")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    count = 10_000_000 if args.full else args.calls
    days = max(args.days, 122) if args.full else args.days
    start = date(2026, 6, 15)
    period = month_of(start, days)
    config = ReportConfig.create("Europe/Moscow", 20, {"support": 30, "vip": 10})
    print(f"{count:,} calls over {days} days, {len(QUEUES)} queues, {args.agents} agents; {load()}")

    if args.backend in ("sqlite", "both"):
        folder = Path(tempfile.mkdtemp(prefix="trubka-bench-", dir=args.dir))
        path = folder / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        print("SQLite:")
        seconds = seed_sqlite(path, count, start, days, args.agents)
        print(f"  seeded in {seconds:7.1f} s ({path.stat().st_size / 2**30:.2f} GiB)")
        asyncio.run(measure(url, period, config))
        if not args.keep:
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()

    pg = os.environ.get("TRUBKA_TEST_PG_URL", "")
    if args.backend in ("postgres", "both"):
        if not pg:
            print("PostgreSQL: skipped (set TRUBKA_TEST_PG_URL)")
            return
        import asyncpg

        name = f"trubka_bench_{uuid.uuid4().hex[:8]}"
        admin = pg.replace("postgresql+asyncpg://", "postgresql://")

        async def admin_sql(sql: str) -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
        url = f"{pg.rpartition('/')[0]}/{name}"
        try:
            upgrade(url)
            print("PostgreSQL:")
            seconds = asyncio.run(seed_postgres(url, count, start, days, args.agents))
            print(f"  seeded in {seconds:7.1f} s")
            asyncio.run(measure(url, period, config))
        finally:
            if not args.keep:
                asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(json.dumps({"calls": count, "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
