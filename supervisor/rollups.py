"""The hourly rollup of call records: `report_hours`, kept exact and up to date from `calls`.

One row per (local day, local hour, queue, agent, PBX) holds the additive :class:`Totals` of
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
* Within an hour recomputed in full less than `full_every` seconds ago, a catch-up
  recomputes only the rows (queue, agent, PBX) that its new calls touch — each such
  row still from all of its calls in the hour — and the days' rows of those keys: with
  a thousand agents an hour holds a thousand rows, and rewriting all of them every two
  seconds for a hundred new calls was a stall of tens of milliseconds on the node and
  the database, felt by the screen pops. The hour in full, at least every `full_every`
  seconds while calls keep coming, still picks up what no new call points at (a call
  committed late with a lower id, a record replaced in place).
* `trubka reports rebuild --start … --end …` recomputes whole days (after changing a
  service-level threshold, or to repair anything).
* Each hour is aggregated in SQL per 15-minute UTC slot and the slots are mapped to
  local hours in Python (see :mod:`supervisor.periods`), the same on SQLite and PostgreSQL.

This module decides when and which hours to recompute (:class:`RollupStore`); the tables
are :mod:`supervisor.rollup_tables`, the SQL :mod:`supervisor.rollup_queries`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from crm.call_records import CallRow
from crm.claims import serialize
from crm.database import Database
from kernel.agents import interface_key
from supervisor.config import ReportConfig
from supervisor.periods import ReportPeriod, hour_range, local_bucket, local_midnight
from supervisor.rollup_queries import (
    Aggregator,
    Bucket,
    RowKey,
    RowTotals,
    days_from_hours,
    row_values,
    upsert_hours,
)
from supervisor.rollup_tables import ReportDay, ReportHour, RollupState
from telephony.records import CallRecord

log = logging.getLogger(__name__)

_STATE_NAME = "calls"
ROLLUP_LOCK = "report-rollups"  # the advisory lock of every rollup refresh (crm.claims)
KEYED_MAX = 500  # touched rows above this: the hours are recomputed in full
RowRegion = tuple[str, str, str]  # queue, agent, PBX: a rollup row's key within its hour


def _merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Adjacent or overlapping UTC spans joined (fewer, larger aggregate queries)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _in_regions(table: type[ReportHour] | type[ReportDay], regions: set[RowRegion]) -> Any:
    """`(queue, agent, pbx) IN (…)` of a rollup table."""
    return tuple_(table.queue, table.agent, table.pbx).in_(sorted(regions))


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
        full_every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.full_every = full_every  # seconds: an hour recomputed in full at least this often
        self.clock = clock
        self._full_at: dict[Bucket, float] = {}  # when each hour was last recomputed in full
        self._done_elsewhere: int | None = None  # the watermark another node moved past ours
        self.config = config
        self.batch = batch
        self.min_interval = min_interval  # seconds between background catch-ups
        self.retry_delay = retry_delay
        self._pending = asyncio.Event()
        self._pending.set()  # the first run catches up with whatever was stored meanwhile
        self._settled = asyncio.Event()
        self.aggregator = Aggregator(config, db.dialect)
        self._upsert_hours = upsert_hours(db.dialect)
        self._days_from_hours = days_from_hours(db.dialect)
        self._days_from_regions = days_from_hours(db.dialect, regions=True)
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

    def wake(self) -> None:
        """Calls were stored on another node (`trubka.cluster`): wake :meth:`run`."""
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
                        select(
                            CallRow.id,
                            CallRow.started_at,
                            CallRow.queue,
                            CallRow.agent_interface,
                            CallRow.pbx,
                        )
                        .where(CallRow.id > watermark)
                        .order_by(CallRow.id)
                        .limit(self.batch)
                    )
                    rows = result.all()
                if not rows:
                    break
                tz = self.config.timezone
                touched: dict[Bucket, set[RowRegion]] = {}
                for _, started, queue, agent, pbx in rows:
                    region = (queue or "", interface_key(agent) if agent else "", pbx)
                    touched.setdefault(local_bucket(started, tz), set()).add(region)
                self._done_elsewhere = None
                await self._refresh_touched(touched, upto=rows[-1][0])
                seen += len(rows)
                if self._done_elsewhere is not None:  # another node rolled these up
                    watermark = max(self._done_elsewhere, rows[-1][0])
                    continue
                watermark = rows[-1][0]
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
            await serialize(session, ROLLUP_LOCK)
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

    async def _refresh_touched(
        self, touched: dict[Bucket, set[RowRegion]], *, upto: int | None = None
    ) -> None:
        """Recompute what new calls (up to id `upto`) touched: hours not recomputed in full
        for `full_every` seconds in full, in the others only the touched rows."""
        now = self.clock()
        full = [b for b in touched if now - self._full_at.get(b, float("-inf")) >= self.full_every]
        keyed = [b for b in touched if b not in full]
        regions = {r for b in keyed for r in touched[b]}
        if len(regions) > KEYED_MAX:
            full, keyed = list(touched), []
        if full:
            # `upto` goes with the last transaction (it moves the watermark)
            await self._refresh_buckets(full, upto=None if keyed else upto)
            if self._done_elsewhere is None:
                for bucket in full:
                    self._full_at[bucket] = now
        if keyed and self._done_elsewhere is None:
            spans = [s for s in (hour_range(d, h, self.config.timezone) for d, h in keyed) if s]
            await self._replace(_merged(spans), days=[], buckets=keyed, regions=regions, upto=upto)
        for bucket in [b for b, at in self._full_at.items() if now - at > 2 * self.full_every]:
            del self._full_at[bucket]  # hours long past: forget them

    async def _refresh_buckets(self, buckets: Iterable[Bucket], *, upto: int | None = None) -> None:
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
            await self._replace(_merged(spans), days=days, buckets=hours, upto=upto)

    async def _replace(
        self,
        spans: list[tuple[datetime, datetime]],
        *,
        days: list[date],
        buckets: list[Bucket],
        regions: set[RowRegion] | None = None,
        upto: int | None = None,
    ) -> int:
        """Aggregate the UTC spans and replace the rollup rows of those days and hours,
        in one transaction; with `regions`, only the rows of those keys (in `buckets`
        only), and the days' rows of those keys. With `upto` (a catch-up's calls, up to
        that id): nothing when another node's catch-up got there first (the watermark,
        read under the lock, is past it; `_done_elsewhere` says where)."""
        for attempt in range(5):
            try:
                async with self.db.transaction() as session:
                    # nodes sharing the database recompute hours one at a time (each
                    # from `calls` as committed): no collision, nothing counted twice
                    await serialize(session, ROLLUP_LOCK)
                    state = None
                    if upto is not None:
                        state = await session.get(RollupState, _STATE_NAME)
                        if state is not None and state.last_call_id >= upto:
                            self._done_elsewhere = state.last_call_id
                            return 0
                    rows: dict[RowKey, RowTotals] = {}
                    for start, end in spans:
                        rows.update(await self.aggregator.aggregate(session, start, end, regions))
                    if regions is not None:
                        wanted = set(buckets)
                        rows = {
                            k: v
                            for k, v in rows.items()
                            if (k[0], k[1]) in wanted and (k[2], k[3], k[4]) in regions
                        }
                    if days:
                        await session.execute(delete(ReportHour).where(ReportHour.day.in_(days)))
                    for i in range(0, len(buckets), 200):
                        chunk = buckets[i : i + 200]
                        where = tuple_(ReportHour.day, ReportHour.hour).in_(chunk)
                        if regions is not None:
                            where = where & _in_regions(ReportHour, regions)
                        await session.execute(delete(ReportHour).where(where))
                    values = [row_values(key, row) for key, row in rows.items()]
                    if values:
                        # Core executemany: no per-row RETURNING of the ORM bulk path
                        connection = await session.connection()
                        await connection.execute(self._upsert_hours, values)
                    touched = sorted(set(days) | {day for day, _ in buckets})
                    of_days = ReportDay.day.in_(touched)
                    if regions is not None:
                        of_days = of_days & _in_regions(ReportDay, regions)
                    await session.execute(delete(ReportDay).where(of_days))
                    if regions is None:
                        await session.execute(self._days_from_hours, {"days": touched})
                    else:
                        await session.execute(
                            self._days_from_regions, {"days": touched, "regions": sorted(regions)}
                        )
                    if state is not None and upto is not None:
                        # in the same transaction: a node that waited for the lock sees
                        # these calls rolled up
                        state.last_call_id = max(upto, state.last_call_id or 0)
                        state.updated_at = datetime.now(UTC)
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
            await serialize(session, ROLLUP_LOCK)  # the first run of two nodes: one row
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
            await serialize(session, ROLLUP_LOCK)
            state = await session.get(RollupState, _STATE_NAME)
            if state is None:
                state = RollupState(name=_STATE_NAME)
                session.add(state)
            state.last_call_id = max(last_call_id, state.last_call_id or 0)
            state.timezone = self.config.timezone.key
            state.updated_at = datetime.now(UTC)

    async def watermark(self) -> int:
        return (await self._state()).last_call_id
