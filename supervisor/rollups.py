"""The hourly rollup of call records: `report_hours`, kept exact and up to date from `calls`.

One row per (local day, local hour, queue, agent) holds the additive :class:`Totals` of
the calls that *started* in that hour. Reports sum these rows, so a month's report
reads some tens of thousands of rows instead of millions of calls.

How the rows stay exact:

* A row is never incremented: a local hour is always **recomputed from `calls`** and
  its rows replaced in one transaction. Re-storing a call, or storing a duplicate
  `linkedid` (which `calls` refuses), therefore cannot count anything twice.
* Which hours to recompute comes from a watermark, the highest `calls.id` already
  rolled up (`report_rollup_state`). The call writer's `CallsStored` event and the
  start-up catch-up both recompute the hours of every call above it, so calls stored
  while Trubka was down, or by another command, are rolled up too.
* `trubka reports rebuild --start … --end …` recomputes whole days (after changing a
  service-level threshold, or to repair anything).
* Each hour is aggregated in SQL per 15-minute UTC slot and the slots are mapped to
  local hours in Python (see :mod:`supervisor.periods`), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Date,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    bindparam,
    delete,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm.call_records import CallRow
from crm.database import Base, Database, UTCDateTime
from kernel.agents import interface_key
from supervisor.config import ReportConfig
from supervisor.figures import Totals
from supervisor.periods import ReportPeriod, hour_range, local_bucket, local_midnight
from telephony.records import CallRecord

log = logging.getLogger(__name__)

Bucket = tuple[date, int]  # local day, local hour
RowKey = tuple[date, int, str, str]  # day, hour, queue, agent

_TOTAL_COLUMNS = Totals.column_names()
_STATE_NAME = "calls"


class TotalsColumns:
    """The :class:`Totals` counters as columns (shared by the hourly and daily rollups)."""

    agent_name: Mapped[str | None] = mapped_column(String(255))
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    answered_within_sl: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_within_sl: Mapped[int] = mapped_column(Integer, default=0)
    hold_answered_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_abandoned_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    max_hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    outbound: Mapped[int] = mapped_column(Integer, default=0)
    outbound_answered: Mapped[int] = mapped_column(Integer, default=0)
    outbound_talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class ReportHour(TotalsColumns, Base):
    """The calls that started in one local hour, per queue and agent."""

    __tablename__ = "report_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)  # the call center's local day
    hour: Mapped[int] = mapped_column(SmallInteger)  # local hour, 0-23
    queue: Mapped[str] = mapped_column(String(80))  # "" = not through a queue
    agent: Mapped[str] = mapped_column(String(128))  # interface key ("" = no agent)
    sl_seconds: Mapped[int] = mapped_column(Integer)  # the threshold these figures used

    __table_args__ = (
        Index("uq_report_hours_bucket", "day", "hour", "queue", "agent", unique=True),
        Index("ix_report_hours_agent_day", "agent", "day"),
    )


class ReportDay(TotalsColumns, Base):
    """The sum of a local day's `report_hours` rows, per queue and agent (month reports)."""

    __tablename__ = "report_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    queue: Mapped[str] = mapped_column(String(80))
    agent: Mapped[str] = mapped_column(String(128))
    sl_min: Mapped[int] = mapped_column(Integer)  # thresholds used that day (equal unless
    sl_max: Mapped[int] = mapped_column(Integer)  # the setting changed during the day)

    __table_args__ = (
        Index("uq_report_days_bucket", "day", "queue", "agent", unique=True),
        Index("ix_report_days_agent_day", "agent", "day"),
    )


_HOURS = cast(Table, ReportHour.__table__)
_DAYS = cast(Table, ReportDay.__table__)


def _days_from_hours(days: list[date]) -> Any:
    """INSERT INTO report_days SELECT … FROM report_hours for these days."""
    sums = []
    for name in Totals.column_names():
        column = getattr(ReportHour, name)
        sums.append(
            (func.max(column) if name == "max_hold_seconds" else func.sum(column)).label(name)
        )
    source = (
        select(
            ReportHour.day,
            ReportHour.queue,
            ReportHour.agent,
            func.max(ReportHour.agent_name).label("agent_name"),
            func.min(ReportHour.sl_seconds).label("sl_min"),
            func.max(ReportHour.sl_seconds).label("sl_max"),
            *sums,
        )
        .where(ReportHour.day.in_(days))
        .group_by(ReportHour.day, ReportHour.queue, ReportHour.agent)
    )
    names = ["day", "queue", "agent", "agent_name", "sl_min", "sl_max", *Totals.column_names()]
    return _DAYS.insert().from_select(names, source)


class RollupState(Base):
    __tablename__ = "report_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_call_id: Mapped[int] = mapped_column(Integer, default=0)
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(slots=True)
class RowTotals:
    totals: Totals
    agent_name: str | None
    sl_seconds: int


def _slot_sql(dialect: str, *, hourly: bool) -> str:
    """`YYYY-MM-DD HH:MM` of the 15-minute (or whole-hour) UTC slot a call started in."""
    if hourly:
        if dialect == "sqlite":
            return "substr(started_at, 1, 14) || '00'"
        return "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00')"
    if dialect == "sqlite":  # UTCDateTime keeps naive UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'
        return (
            "substr(started_at, 1, 14) || "
            "printf('%02d', (CAST(substr(started_at, 15, 2) AS INTEGER) / 15) * 15)"
        )
    return (
        "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:') || "
        "lpad(((CAST(extract(minute FROM started_at AT TIME ZONE 'UTC') AS INTEGER) / 15) * 15)"
        "::text, 2, '0')"
    )


def _parse_slot(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


class Aggregator:
    """Aggregates `calls` into rollup rows: SQL per slot, then local hours in Python."""

    def __init__(self, config: ReportConfig, dialect: str) -> None:
        self.config = config
        thresholds = dict(config.queue_service_levels)
        params: dict[str, Any] = {"sl_default": config.service_level_seconds}
        cases = []
        for i, (queue, seconds) in enumerate(sorted(thresholds.items())):
            params[f"sl_q{i}"] = queue
            params[f"sl_t{i}"] = seconds
            cases.append(f"WHEN CAST(:sl_q{i} AS VARCHAR) THEN CAST(:sl_t{i} AS INTEGER)")
        default = "CAST(:sl_default AS INTEGER)"
        threshold = (
            f"CASE COALESCE(queue, '') {' '.join(cases)} ELSE {default} END" if cases else default
        )
        hold = "COALESCE(queue_hold_seconds, wait_seconds)"
        talk = "COALESCE(queue_talk_seconds, talk_seconds)"
        sql = """
            SELECT {slot} AS slot,
                   COALESCE(queue, '') AS queue,
                   COALESCE(agent_interface, '') AS agent,
                   direction, disposition,
                   CASE WHEN {hold} <= {threshold} THEN 1 ELSE 0 END AS within_sl,
                   COUNT(*), SUM({hold}), SUM({talk}), MAX({hold}), MAX(agent_name)
            FROM calls
            WHERE started_at >= :start AND started_at < :end
            GROUP BY 1, 2, 3, 4, 5, 6
        """
        sql = sql.replace("{hold}", hold).replace("{talk}", talk).replace("{threshold}", threshold)
        times = (bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime()))
        self.statement = text(sql.replace("{slot}", _slot_sql(dialect, hourly=False))).bindparams(
            *times
        )
        # where the zone's offset is whole hours and does not change within the span, UTC
        # hours map to local hours: four times fewer groups to read
        self.hourly = text(sql.replace("{slot}", _slot_sql(dialect, hourly=True))).bindparams(
            *times
        )
        self.params = params

    async def aggregate(
        self, session: AsyncSession, start: datetime, end: datetime
    ) -> dict[RowKey, RowTotals]:
        """Rollup rows of the calls started in [start, end) (UTC, slot-aligned)."""
        tz = self.config.timezone
        offset = start.astimezone(tz).utcoffset()
        steady = (
            offset is not None
            and offset == (end - timedelta(microseconds=1)).astimezone(tz).utcoffset()
            and offset.total_seconds() % 3600 == 0
            and start.minute == 0
        )
        statement = self.hourly if steady else self.statement
        result = await session.execute(statement, {**self.params, "start": start, "end": end})
        rows: dict[RowKey, RowTotals] = {}
        buckets: dict[str, Bucket] = {}
        for (
            slot,
            queue,
            agent_raw,
            direction,
            disposition,
            within,
            count,
            hold,
            talk,
            max_hold,
            name,
        ) in result:
            bucket = buckets.get(slot)
            if bucket is None:
                bucket = buckets[slot] = local_bucket(_parse_slot(slot), tz)
            agent = interface_key(agent_raw) if agent_raw else ""
            key = (bucket[0], bucket[1], queue, agent)
            row = rows.get(key)
            if row is None:
                row = rows[key] = RowTotals(Totals(), None, self.config.threshold(queue))
            row.totals.add_calls(
                queue=queue,
                direction=direction,
                disposition=disposition,
                has_agent=bool(agent),
                within_sl=bool(within),
                count=int(count),
                hold=float(hold or 0.0),
                talk=float(talk or 0.0),
                max_hold=float(max_hold or 0.0),
            )
            if name and (row.agent_name is None or name > row.agent_name):
                row.agent_name = name
        return rows


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Adjacent or overlapping UTC spans joined (fewer, larger aggregate queries)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _row_values(key: RowKey, row: RowTotals) -> dict[str, Any]:
    day, hour, queue, agent = key
    values: dict[str, Any] = {
        "day": day,
        "hour": hour,
        "queue": queue,
        "agent": agent,
        "agent_name": row.agent_name[:255] if row.agent_name else None,
        "sl_seconds": row.sl_seconds,
    }
    values.update(row.totals.as_dict())
    return values


class RollupStore:
    """Maintains `report_hours`. One per process; its refreshes are serialized."""

    def __init__(
        self,
        db: Database,
        config: ReportConfig,
        *,
        batch: int = 20_000,
        retry_delay: float = 1.0,
        min_interval: float = 2.0,
    ) -> None:
        self.db = db
        self.config = config
        self.batch = batch
        self.min_interval = min_interval  # seconds between background catch-ups
        self.retry_delay = retry_delay
        self._pending = asyncio.Event()
        self._pending.set()  # the first run catches up with whatever was stored meanwhile
        self._settled = asyncio.Event()
        self.aggregator = Aggregator(config, db.dialect)
        self.version = 0  # goes up whenever rollup rows change (for caches of today's figures)
        self.listeners: list[Callable[[], None]] = []  # told when `version` goes up
        self._lock = asyncio.Lock()

    # --- hooks -------------------------------------------------------------------------
    async def after_save(self, records: Sequence[CallRecord]) -> None:
        """Roll up everything stored since the watermark, now (tests, commands)."""
        await self.catch_up()

    async def notify(self, records: Sequence[CallRecord]) -> None:
        """Calls were stored (`CallsStored`): wake :meth:`run`; never makes anyone wait."""
        self._settled.clear()
        self._pending.set()

    async def run(self) -> None:
        """Roll up stored calls whenever notified (a tracked background task)."""
        loop = asyncio.get_running_loop()
        last = float("-inf")
        while True:
            await self._pending.wait()
            # Recomputing an hour costs the same for one new call as for a hundred: at
            # most one catch-up per `min_interval` while calls keep ending.
            wait = last + self.min_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            last = loop.time()
            self._pending.clear()
            try:
                await self.catch_up()
            except (SQLAlchemyError, OSError) as exc:
                log.error("report rollups failed, retrying in %.0fs: %s", self.retry_delay, exc)
                self._pending.set()
                await asyncio.sleep(self.retry_delay)
                continue
            if not self._pending.is_set():
                self._settled.set()

    async def settled(self) -> None:
        """Wait until :meth:`run` has rolled up everything it was told about."""
        await self._settled.wait()

    async def catch_up(self) -> int:
        """Recompute the hours of every call above the watermark; returns the calls seen."""
        seen = 0
        async with self._lock:
            state = await self._state()
            if state.timezone != self.config.timezone.key:
                log.warning(
                    "report rollups were built for time zone %s, now %s: rebuilding them all",
                    state.timezone,
                    self.config.timezone.key,
                )
                await self._rebuild_all_locked()
                return 0
            watermark = state.last_call_id
            while True:
                async with self.db.session() as session:
                    result = await session.execute(
                        select(CallRow.id, CallRow.started_at)
                        .where(CallRow.id > watermark)
                        .order_by(CallRow.id)
                        .limit(self.batch)
                    )
                    rows = result.all()
                if not rows:
                    break
                tz = self.config.timezone
                buckets = {local_bucket(started, tz) for _, started in rows}
                await self._refresh_buckets(buckets)
                watermark = rows[-1][0]
                seen += len(rows)
                await self._set_watermark(watermark)
        return seen

    # --- rebuilding ------------------------------------------------------------------
    async def rebuild(self, period: ReportPeriod) -> int:
        """Recompute whole local days from `calls`; returns the rollup rows written."""
        async with self._lock:
            written = 0
            for day in period.each_day():
                written += await self._refresh_day(day)
            return written

    async def rebuild_all(self) -> None:
        """Recompute every day that has calls, and move the watermark past them all."""
        async with self._lock:
            await self._rebuild_all_locked()

    async def _rebuild_all_locked(self) -> None:
        async with self.db.session() as session:
            first, last, top = (
                await session.execute(
                    select(
                        func.min(CallRow.started_at),
                        func.max(CallRow.started_at),
                        func.max(CallRow.id),
                    )
                )
            ).one()
        async with self.db.transaction() as session:
            await session.execute(delete(ReportHour))
            await session.execute(delete(ReportDay))
        if first is not None:
            tz = self.config.timezone
            lo = first.astimezone(tz).date()
            hi = last.astimezone(tz).date()
            day = lo
            while day <= hi:
                await self._refresh_day(day)
                day += timedelta(days=1)
        await self._set_watermark(int(top or 0))

    async def _refresh_day(self, day: date) -> int:
        tz = self.config.timezone
        span = (local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))
        return await self._replace([span], days=[day], buckets=[])

    async def _refresh_buckets(self, buckets: Iterable[Bucket]) -> None:
        """Recompute these local hours (whole days when most of a day is touched)."""
        by_day: dict[date, set[int]] = {}
        for day, hour in buckets:
            by_day.setdefault(day, set()).add(hour)
        tz = self.config.timezone
        spans: list[tuple[datetime, datetime]] = []
        days: list[date] = []
        hours: list[Bucket] = []
        for day, wanted in sorted(by_day.items()):
            if len(wanted) > 6:
                days.append(day)
                spans.append((local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)))
                continue
            for hour in sorted(wanted):
                span = hour_range(day, hour, tz)
                if span is not None:
                    hours.append((day, hour))
                    spans.append(span)
        if spans:
            await self._replace(_merged(spans), days=days, buckets=hours)

    async def _replace(
        self, spans: list[tuple[datetime, datetime]], *, days: list[date], buckets: list[Bucket]
    ) -> int:
        """Aggregate the UTC spans and replace the rollup rows of those days and hours,
        in one transaction."""
        for attempt in range(5):
            try:
                async with self.db.transaction() as session:
                    rows: dict[RowKey, RowTotals] = {}
                    for start, end in spans:
                        rows.update(await self.aggregator.aggregate(session, start, end))
                    if days:
                        await session.execute(delete(ReportHour).where(ReportHour.day.in_(days)))
                    for i in range(0, len(buckets), 200):
                        chunk = buckets[i : i + 200]
                        await session.execute(
                            delete(ReportHour).where(
                                tuple_(ReportHour.day, ReportHour.hour).in_(chunk)
                            )
                        )
                    values = [_row_values(key, row) for key, row in rows.items()]
                    if values:
                        # Core executemany: no per-row RETURNING of the ORM bulk path
                        connection = await session.connection()
                        await connection.execute(_HOURS.insert(), values)
                    touched = sorted(set(days) | {day for day, _ in buckets})
                    await session.execute(delete(ReportDay).where(ReportDay.day.in_(touched)))
                    await session.execute(_days_from_hours(touched))
                self.version += 1
                for listener in self.listeners:
                    listener()
                return len(values)
            except (IntegrityError, DBAPIError) as exc:
                # another process replaced the same hours at the same moment: do it again
                if attempt == 4:
                    raise
                log.info("rollup refresh collided, retrying: %s", exc)
                await asyncio.sleep(0.05 * (attempt + 1))
        return 0  # pragma: no cover - the loop returns or raises

    # --- the watermark ---------------------------------------------------------------
    async def _state(self) -> RollupState:
        async with self.db.transaction() as session:
            state = await session.get(RollupState, _STATE_NAME)
            if state is None:
                state = RollupState(
                    name=_STATE_NAME,
                    last_call_id=0,
                    timezone=self.config.timezone.key,
                    updated_at=datetime.now(UTC),
                )
                session.add(state)
            return state

    async def _set_watermark(self, last_call_id: int) -> None:
        async with self.db.transaction() as session:
            state = await session.get(RollupState, _STATE_NAME)
            if state is None:
                state = RollupState(name=_STATE_NAME)
                session.add(state)
            state.last_call_id = max(last_call_id, state.last_call_id or 0)
            state.timezone = self.config.timezone.key
            state.updated_at = datetime.now(UTC)

    async def watermark(self) -> int:
        return (await self._state()).last_call_id
