"""Time agents spend in each state (available, ringing, on a call, wrap-up, paused …).

The reducer emits :class:`telephony.domain.AgentStateChanged` whenever an agent's state
(or, while paused, the pause reason) changes. :class:`AgentTimeRecorder` closes the
interval that just ended, splits it at local hour boundaries and adds the seconds to
`agent_state_hours` (day, hour, agent, state, reason) — small enough to sum a month per
agent in milliseconds. Logged-out time is not recorded.

What is not seen is not counted: while Trubka is stopped or AMI is disconnected no state
is known, so the interval open at shutdown is closed at that moment and counting starts
again when the resync after the next connect reports the agents.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Date, Float, Index, Integer, SmallInteger, String, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database
from kernel.bus import Subscription
from supervisor.config import ReportConfig
from telephony.domain import AgentStateChanged, DomainEvent

log = logging.getLogger(__name__)

NOT_RECORDED = frozenset({"logged_out"})
StateKey = tuple[date, int, str, str, str]  # day, hour, agent, state, reason


class AgentStateHour(Base):
    __tablename__ = "agent_state_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    agent: Mapped[str] = mapped_column(String(128))  # interface key
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(80))  # the pause reason, "" otherwise
    seconds: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index(
            "uq_agent_state_hours_bucket", "day", "hour", "agent", "state", "reason", unique=True
        ),
    )


class AgentStateDay(Base):
    """The sum of a day's `agent_state_hours` (month reports read this)."""

    __tablename__ = "agent_state_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    agent: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(80))
    seconds: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("uq_agent_state_days_bucket", "day", "agent", "state", "reason", unique=True),
    )


MAX_INTERVAL = 7 * 86400.0


@dataclass(slots=True)
class OpenState:
    state: str
    reason: str
    since: float


def split_hours(start: float, end: float, config: ReportConfig) -> list[tuple[date, int, float]]:
    """Seconds of [start, end) per local (day, hour)."""
    tz = config.timezone
    pieces: list[tuple[date, int, float]] = []
    t = start
    while t < end:
        moment = datetime.fromtimestamp(t, UTC)
        local = moment.astimezone(tz)
        # the next UTC quarter hour is a safe step: local hours change only on quarter hours
        step = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
        step += timedelta(minutes=15)
        upto = min(end, step.timestamp())
        if pieces and pieces[-1][:2] == (local.date(), local.hour):
            day, hour, seconds = pieces[-1]
            pieces[-1] = (day, hour, seconds + (upto - t))
        else:
            pieces.append((local.date(), local.hour, upto - t))
        t = upto
    return pieces


STOP_GRACE = 30.0  # seconds a shutdown waits for its writes (SQLite's busy timeout)


class AgentTimeRecorder:
    """Consumes agent state changes and accumulates the seconds per state and hour."""

    def __init__(
        self,
        db: Database,
        subscription: Subscription[DomainEvent],
        config: ReportConfig,
        *,
        batch_size: int = 500,
        retry_delay: float = 1.0,
        clock: Callable[[], float] | None = None,
        linger: float = 1.0,
    ) -> None:
        self.db = db
        self.linger = linger  # seconds state changes gather before one write
        self.subscription = subscription
        self.config = config
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.open: dict[str, OpenState] = {}
        self.idle = asyncio.Event()
        self._clock = clock or (lambda: datetime.now(UTC).timestamp())
        self._held: list[DomainEvent] = []  # taken from the queue, not yet applied
        # The write in flight: shielded, so stopping the service never cuts a write in
        # half (a cancelled write left its connection holding SQLite's lock, and the
        # shutdown write behind it failed with "database is locked").
        self._writing: asyncio.Future[None] | None = None

    def apply(self, events: Iterable[DomainEvent]) -> dict[StateKey, float]:
        """Fold state changes into the open intervals; returns the seconds that closed."""
        closed: dict[StateKey, float] = {}
        for event in events:
            if not isinstance(event, AgentStateChanged):
                continue
            reason = (event.paused_reason or "")[:80] if event.state == "paused" else ""
            current = self.open.get(event.agent)
            if current is not None:
                if current.state == event.state and current.reason == reason:
                    continue
                self._close(event.agent, current, event.at, closed)
            if event.state in NOT_RECORDED:
                self.open.pop(event.agent, None)
            else:
                self.open[event.agent] = OpenState(event.state, reason, event.at)
        return closed

    def close_all(self, at: float) -> dict[StateKey, float]:
        """Close every open interval at `at` (shutdown)."""
        closed: dict[StateKey, float] = {}
        for agent, current in list(self.open.items()):
            self._close(agent, current, at, closed)
        self.open.clear()
        return closed

    def _close(self, agent: str, current: OpenState, at: float, out: dict[StateKey, float]) -> None:
        if at <= current.since:
            return
        # A state can't have lasted longer than this process could have seen it; a bogus
        # old timestamp must not turn into years of hourly rows.
        since = max(current.since, at - MAX_INTERVAL)
        for day, hour, seconds in split_hours(since, at, self.config):
            key = (day, hour, agent[:128], current.state, current.reason)
            out[key] = out.get(key, 0.0) + seconds

    async def run(self) -> None:
        while True:
            self.idle.set()
            first = await self.subscription.get()
            self.idle.clear()
            self._held = [first]
            if self.linger > 0 and self.subscription.queue.qsize() < self.batch_size - 1:
                await asyncio.sleep(self.linger)  # one transaction for a burst of changes
            self._held = []
            closed = self.apply(self.subscription.get_batch(first, self.batch_size))
            if closed:
                self._writing = asyncio.ensure_future(self._store(closed))
                await asyncio.shield(self._writing)
                self._writing = None

    async def stop(self) -> None:
        """Store what is queued and the intervals still open, closed now (at shutdown).
        Call it after cancelling `run`: a write `run` had begun is finished first."""
        if self._writing is not None:
            try:
                async with asyncio.timeout(STOP_GRACE):
                    await asyncio.shield(self._writing)
            except TimeoutError:
                self._writing.cancel()
                log.error("shutdown: agent state time of one batch was not stored in time")
            self._writing = None
        pending, self._held = self._held, []
        while True:
            try:
                pending.append(self.subscription.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        closed = self.apply(pending)
        for key, seconds in self.close_all(self._clock()).items():
            closed[key] = closed.get(key, 0.0) + seconds
        if closed:
            try:
                async with asyncio.timeout(STOP_GRACE):
                    await self._store(closed)
            except TimeoutError:
                log.error("shutdown: the agent state time still open was not stored in time")

    async def _store(self, closed: dict[StateKey, float]) -> None:
        delay = self.retry_delay
        while True:
            try:
                await self.write(closed)
                return
            except (SQLAlchemyError, OSError) as exc:
                log.error("storing agent state time failed, retrying in %.0fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def write(self, closed: dict[StateKey, float]) -> None:
        """Add the seconds to the hourly and the daily rows (one transaction)."""
        hours = [
            {"day": d, "hour": h, "agent": a, "state": s, "reason": r, "seconds": sec}
            for (d, h, a, s, r), sec in sorted(closed.items())
        ]
        by_day: dict[tuple[date, str, str, str], float] = {}
        for (d, _h, a, s, r), sec in closed.items():
            by_day[(d, a, s, r)] = by_day.get((d, a, s, r), 0.0) + sec
        days = [
            {"day": d, "agent": a, "state": s, "reason": r, "seconds": sec}
            for (d, a, s, r), sec in sorted(by_day.items())
        ]
        hour_rows, day_rows = _upserts(self.db.dialect)
        async with self.db.transaction() as session:
            connection = await session.connection()
            if hours:
                await connection.execute(hour_rows, hours)
            if days:
                await connection.execute(day_rows, days)


@cache
def _upserts(dialect: str) -> tuple[Any, Any]:
    """The hourly and the daily `INSERT … ON CONFLICT DO UPDATE SET seconds = seconds + …`,
    each run as an executemany: built once, not at every write (a statement's `excluded`
    alias and its column proxies are garbage to collect), and compiled once (SQLAlchemy
    2.1 caches dialect upserts)."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    hour_table = cast(Table, AgentStateHour.__table__)
    day_table = cast(Table, AgentStateDay.__table__)
    hour_rows = insert(hour_table)
    hour_rows = hour_rows.on_conflict_do_update(
        index_elements=["day", "hour", "agent", "state", "reason"],
        set_={"seconds": hour_table.c.seconds + hour_rows.excluded.seconds},
    )
    day_rows = insert(day_table)
    day_rows = day_rows.on_conflict_do_update(
        index_elements=["day", "agent", "state", "reason"],
        set_={"seconds": day_table.c.seconds + day_rows.excluded.seconds},
    )
    return hour_rows, day_rows
