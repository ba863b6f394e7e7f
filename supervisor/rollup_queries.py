"""The rollups' SQL, as SQLAlchemy Core expressions: the same results on SQLite and PostgreSQL.

* :class:`Aggregator` reads `calls` grouped per 15-minute (or whole-hour) UTC slot,
  queue, agent, direction, disposition and "within the service level", and maps the slots
  to local hours in Python (:mod:`supervisor.periods`): the time zone rules stay in one
  place, whatever the database knows of them.
* :func:`upsert_hours` writes `report_hours` rows, :func:`days_from_hours` sums them
  into `report_days` (INSERT … SELECT). Both are upserts of their dialect (`ON CONFLICT …
  DO UPDATE`): a refresh of the same rows by another process in between overwrites them
  instead of failing the transaction.

Only the UTC slot of a call's start is written per dialect (SQLite keeps `started_at` as
naive UTC text, PostgreSQL as `timestamptz`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    case,
    extract,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_records import CallRow
from kernel.agents import DIAL_OPTIONS, interface_key
from supervisor.config import ReportConfig
from supervisor.figures import Totals
from supervisor.periods import local_bucket
from supervisor.rollup_tables import DAY_KEY, DAYS, HOUR_KEY, HOURS, ReportHour

Bucket = tuple[date, int]  # local day, local hour
Statements = tuple[Select[Any], Select[Any]]  # per 15-minute slot, per hour
RowKey = tuple[date, int, str, str, str]  # day, hour, queue, agent, PBX

_CALLS = cast(Table, CallRow.__table__)
_SLOT_MINUTES = 15


@dataclass(slots=True)
class RowTotals:
    totals: Totals
    agent_name: str | None
    sl_seconds: int


def utc_slot(dialect: str, *, hourly: bool) -> ColumnElement[str]:
    """`YYYY-MM-DD HH:MM` of the 15-minute (or whole-hour) UTC slot a call started in."""
    started = _CALLS.c.started_at
    if dialect == "sqlite":  # UTCDateTime keeps naive UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'
        hour = func.substr(started, 1, 14, type_=String)  # 'YYYY-MM-DD HH:'
        if hourly:
            return hour + literal("00")
        minute = sql_cast(func.substr(started, 15, 2), Integer)
        quarter = minute // _SLOT_MINUTES * _SLOT_MINUTES
        return hour + func.printf("%02d", quarter, type_=String)
    utc = func.timezone("UTC", started)  # `started_at AT TIME ZONE 'UTC'`
    if hourly:
        return func.to_char(utc, "YYYY-MM-DD HH24:00", type_=String)
    quarter = sql_cast(extract("minute", utc), Integer) // _SLOT_MINUTES * _SLOT_MINUTES
    return func.to_char(utc, "YYYY-MM-DD HH24:", type_=String) + func.lpad(
        sql_cast(quarter, String), 2, "0", type_=String
    )


def _parse_slot(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def aggregate_statement(
    config: ReportConfig, slot: ColumnElement[str], *, regions: bool = False
) -> Select[Any]:
    """Per slot, queue, agent, direction, disposition, within-SL and PBX: the count of calls,
    their hold and talk seconds, the longest hold and an agent name, for the calls started
    in [`start`, `end`) (bound at execution). With `regions`, only the calls of the queues
    `queues`, the PBXes `pbxes` and the agent spellings `agents` (lists bound at
    execution; a spelling with blanks around it is always read, as its key is the
    stripped one)."""
    calls = _CALLS.c
    queue = func.coalesce(calls.queue, "")
    hold = func.coalesce(calls.queue_hold_seconds, calls.wait_seconds)
    default = literal(config.service_level_seconds, Integer)
    thresholds = dict(sorted(config.thresholds().items()))
    threshold = case(thresholds, value=queue, else_=default) if thresholds else default
    each: Any = select(
        slot.label("slot"),
        queue.label("queue"),
        func.coalesce(calls.agent_interface, "").label("agent"),
        calls.direction,
        calls.disposition,
        case((hold <= threshold, 1), else_=0).label("within_sl"),
        hold.label("hold"),
        func.coalesce(calls.queue_talk_seconds, calls.talk_seconds).label("talk"),
        calls.agent_name,
        calls.pbx,
    ).where(calls.started_at >= bindparam("start"), calls.started_at < bindparam("end"))
    if regions:
        agent = func.coalesce(calls.agent_interface, "")
        each = each.where(
            queue.in_(bindparam("queues", expanding=True)),
            calls.pbx.in_(bindparam("pbxes", expanding=True)),
            or_(agent.in_(bindparam("agents", expanding=True)), agent != func.trim(agent)),
        )
    each = each.subquery("each_call")
    keys = (
        each.c.slot,
        each.c.queue,
        each.c.agent,
        each.c.direction,
        each.c.disposition,
        each.c.within_sl,
        each.c.pbx,
    )
    return select(
        *keys,
        func.count(),
        func.sum(each.c.hold),
        func.sum(each.c.talk),
        func.max(each.c.hold),
        func.max(each.c.agent_name),
    ).group_by(*keys)


class Aggregator:
    """Aggregates `calls` into rollup rows: SQL per slot, then local hours in Python."""

    def __init__(self, config: ReportConfig, dialect: str) -> None:
        self.config = config
        self.dialect = dialect
        self._built: dict[tuple[tuple[tuple[str, int], ...], bool], Statements] = {}

    def statements(self, regions: bool = False) -> Statements:
        """The per-slot and the hourly statement (of some regions only: `regions`),
        rebuilt when a threshold changed (Asterisk reports its queues' `servicelevel` after
        Trubka started)."""
        key = (tuple(sorted(self.config.thresholds().items())), regions)
        built = self._built.get(key)
        if built is None:
            self._built = {k: v for k, v in self._built.items() if k[0] == key[0]}
            built = self._built[key] = (
                aggregate_statement(
                    self.config, utc_slot(self.dialect, hourly=False), regions=regions
                ),
                # where the zone's offset is whole hours and does not change within the
                # span, UTC hours map to local hours: four times fewer groups to read
                aggregate_statement(
                    self.config, utc_slot(self.dialect, hourly=True), regions=regions
                ),
            )
        return built

    async def aggregate(
        self,
        session: AsyncSession,
        start: datetime,
        end: datetime,
        regions: Collection[tuple[str, str, str]] | None = None,
    ) -> dict[RowKey, RowTotals]:
        """Rollup rows of the calls started in [start, end) (UTC, slot-aligned); with
        `regions` ((queue, agent key, PBX) each), the rows of those regions' queues, agents
        and PBXes (each row of them whole: every call of its key is read)."""
        tz = self.config.timezone
        offset = start.astimezone(tz).utcoffset()
        steady = (
            offset is not None
            and offset == (end - timedelta(microseconds=1)).astimezone(tz).utcoffset()
            and offset.total_seconds() % 3600 == 0
            and start.minute == 0
        )
        per_slot, hourly = self.statements(regions is not None)
        statement = hourly if steady else per_slot
        params: dict[str, Any] = {"start": start, "end": end}
        if regions is not None:
            params["queues"] = sorted({q for q, _a, _p in regions})
            params["pbxes"] = sorted({p for _q, _a, p in regions})
            params["agents"] = sorted(
                {a + suffix for _q, a, _p in regions for suffix in ("", *DIAL_OPTIONS)}
            )
        result = await session.execute(statement, params)
        rows: dict[RowKey, RowTotals] = {}
        buckets: dict[str, Bucket] = {}
        for (
            slot,
            queue,
            agent_raw,
            direction,
            disposition,
            within,
            pbx,
            count,
            hold,
            talk,
            max_hold,
            name,
        ) in cast(Iterable[tuple[Any, ...]], result):
            bucket = buckets.get(slot)
            if bucket is None:
                bucket = buckets[slot] = local_bucket(_parse_slot(slot), tz)
            agent = interface_key(agent_raw) if agent_raw else ""
            key = (bucket[0], bucket[1], queue, agent, pbx)
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


def row_values(key: RowKey, row: RowTotals) -> dict[str, Any]:
    """A `report_hours` row for :func:`upsert_hours`."""
    day, hour, queue, agent, pbx = key
    values: dict[str, Any] = {
        "day": day,
        "hour": hour,
        "queue": queue,
        "agent": agent,
        "pbx": pbx,
        "agent_name": row.agent_name[:255] if row.agent_name else None,
        "sl_seconds": row.sl_seconds,
    }
    values.update(row.totals.as_dict())
    return values


def _insert(table: Table, dialect: str) -> sqlite.Insert | postgresql.Insert:
    return sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)


def _upsert(
    insert: sqlite.Insert | postgresql.Insert, key: tuple[str, ...], columns: list[str]
) -> Insert:
    return insert.on_conflict_do_update(
        index_elements=list(key), set_={name: insert.excluded[name] for name in columns}
    )


def upsert_hours(dialect: str) -> Insert:
    """INSERT INTO report_hours … ON CONFLICT (day, hour, queue, agent, pbx) DO UPDATE (executed
    with many rows of :func:`row_values`)."""
    columns = ["agent_name", "sl_seconds", *Totals.column_names()]
    return _upsert(_insert(HOURS, dialect), HOUR_KEY, columns)


def days_from_hours(dialect: str, *, regions: bool = False) -> Insert:
    """INSERT INTO report_days SELECT … FROM report_hours for the days `days` (an upsert;
    an expanding list bound at execution); with `regions`, of the hours' rows whose
    (queue, agent, PBX) is in `regions` only (bound the same way). Built once per store,
    not at every catch-up: its `excluded` alias and labels are garbage to collect."""
    sums = []
    for name in Totals.column_names():
        column = getattr(ReportHour, name)
        sums.append(
            (func.max(column) if name == "max_hold_seconds" else func.sum(column)).label(name)
        )
    # a WHERE keeps SQLite's INSERT … SELECT … ON CONFLICT unambiguous
    where: ColumnElement[bool] = ReportHour.day.in_(bindparam("days", expanding=True))
    if regions:
        where = where & tuple_(ReportHour.queue, ReportHour.agent, ReportHour.pbx).in_(
            bindparam("regions", expanding=True)
        )
    source = (
        select(
            ReportHour.day,
            ReportHour.queue,
            ReportHour.agent,
            ReportHour.pbx,
            func.max(ReportHour.agent_name).label("agent_name"),
            func.min(ReportHour.sl_seconds).label("sl_min"),
            func.max(ReportHour.sl_seconds).label("sl_max"),
            *sums,
        )
        .where(where)
        .group_by(ReportHour.day, ReportHour.queue, ReportHour.agent, ReportHour.pbx)
    )
    columns = ["agent_name", "sl_min", "sl_max", *Totals.column_names()]
    insert = _insert(DAYS, dialect).from_select([*DAY_KEY, *columns], source)
    return _upsert(insert, DAY_KEY, columns)
