"""The report queries: per queue and per agent, in total, per day, per hour.

All of them read the rollups (`report_hours`, `agent_state_hours`), never `calls`, so
a month or a year of reports costs the same whatever the call volume.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Integer, Select, Table, case, func, literal, select

from crm.call_records import CallRow
from crm.database import Database
from kernel.agents import agent_key, interface_key
from supervisor.agent_time import AgentStateDay, AgentStateHour
from supervisor.config import ReportConfig
from supervisor.errors import ReportParameterError
from supervisor.figures import Totals, agent_figures, queue_figures
from supervisor.periods import ReportPeriod, local_midnight
from supervisor.rollup_tables import ReportDay, ReportHour

STATE_FIELDS = {
    "available": "available_seconds",
    "ringing": "ringing_seconds",
    "on_call": "on_call_seconds",
    "wrap_up": "wrap_up_seconds",
    "paused": "pause_seconds",
    "unavailable": "unavailable_seconds",
}


class Group(StrEnum):
    TOTAL = "total"
    DAY = "day"
    HOUR = "hour"  # each hour of each day
    HOUR_OF_DAY = "hour_of_day"  # 0–23, summed over the days of the period


def parse_group(value: str | None) -> Group:
    if value is None or not value.strip():
        return Group.TOTAL
    try:
        return Group(value.strip())
    except ValueError:
        choices = ", ".join(g.value for g in Group)
        raise ReportParameterError("group", f"{value!r} is not one of: {choices}") from None


Rollup = type[ReportHour] | type[ReportDay]


def _table(group: Group) -> Rollup:
    """Totals and per-day reports read the daily rollup; hourly ones the hourly rollup."""
    return ReportDay if group in (Group.TOTAL, Group.DAY) else ReportHour


def _sl_bounds(table: Rollup) -> list[ColumnElement[Any]]:
    if table is ReportDay:
        return [
            func.min(ReportDay.sl_min).label("sl_min"),
            func.max(ReportDay.sl_max).label("sl_max"),
        ]
    return [
        func.min(ReportHour.sl_seconds).label("sl_min"),
        func.max(ReportHour.sl_seconds).label("sl_max"),
    ]


def _sums(table: Rollup) -> list[ColumnElement[Any]]:
    columns: list[ColumnElement[Any]] = []
    for name in Totals.column_names():
        column = getattr(table, name)
        if name == "max_hold_seconds":
            columns.append(func.max(column).label(name))
        else:
            columns.append(func.sum(column).label(name))
    return columns


def _group_columns(group: Group, table: Any) -> list[Any]:
    if group is Group.DAY:
        return [table.day]
    if group is Group.HOUR:
        return [table.day, table.hour]
    if group is Group.HOUR_OF_DAY:
        return [table.hour]
    return []


def _group_labels(group: Group, row: Any) -> dict[str, Any]:
    if group is Group.DAY:
        return {"day": row.day.isoformat()}
    if group is Group.HOUR:
        return {"day": row.day.isoformat(), "hour": row.hour}
    if group is Group.HOUR_OF_DAY:
        return {"hour": row.hour}
    return {}


_FLOAT_TOTALS = frozenset(name for name in Totals.column_names() if name.endswith("_seconds"))


def _labels(group: Group, values: tuple[Any, ...]) -> dict[str, Any]:
    if group is Group.DAY:
        return {"day": values[0].isoformat()}
    if group is Group.HOUR:
        return {"day": values[0].isoformat(), "hour": values[1]}
    if group is Group.HOUR_OF_DAY:
        return {"hour": values[0]}
    return {}


def _totals(row: Any) -> Totals:
    values: dict[str, Any] = {}
    for name in Totals.column_names():
        value = getattr(row, name)
        if name in _FLOAT_TOTALS:
            values[name] = float(value) if value is not None else 0.0
        else:
            values[name] = int(value) if value is not None else 0
    return Totals(**values)


AgentKeys = Callable[[], Awaitable[frozenset[str] | None]]
"""The agent keys of Trubka users and queue members (None: not known, nothing is hidden)."""


class ReportService:
    def __init__(
        self, db: Database, config: ReportConfig, agent_keys: AgentKeys | None = None
    ) -> None:
        self.db = db
        self.config = config
        self.agent_keys = agent_keys

    # --- queues ------------------------------------------------------------------------
    async def queues(
        self,
        period: ReportPeriod,
        *,
        queue: str | None = None,
        group: Group = Group.TOTAL,
        combined: bool = False,
        pbx: str | None = None,
    ) -> list[dict[str, Any]]:
        """One row per queue (and day/hour when grouped), sorted by time then queue; with
        `combined`, every customer call summed into one row per day/hour (`"queue": null`):
        the queues' calls and the inbound calls routed straight to a person, each once.
        Every PBX's calls are summed (a queue of the same name on two PBXes is one row);
        `pbx` keeps that PBX's calls only (TRUBKA_PBXES' name)."""
        table = _table(group)
        keys = _group_columns(group, table)
        per_queue = [] if combined else [table.queue]
        query: Select[Any] = (
            select(*keys, *per_queue, *_sl_bounds(table), *_sums(table))
            .where(table.day >= period.start, table.day <= period.end)
            .group_by(*keys, *per_queue)
            .order_by(*keys, *per_queue)
        )
        if queue:
            query = query.where(table.queue == queue)
        elif not combined:
            query = query.where(table.queue != "")
        if pbx:
            query = query.where(table.pbx == pbx)
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        out = []
        for row in rows:
            if combined and row.offered is None:
                continue  # no rows at all: SUM() over nothing
            name = None if combined else row.queue
            item: dict[str, Any] = {"queue": name, **_group_labels(group, row)}
            item["sl_threshold_seconds"] = row.sl_min if row.sl_min == row.sl_max else None
            if name is not None:
                seconds, source = self.config.threshold_and_source(name)
                item["service_level_seconds"] = seconds  # the threshold in force now
                item["service_level_source"] = source
            item.update(queue_figures(_totals(row)))
            out.append(item)
        return out

    # --- agents ------------------------------------------------------------------------
    async def agents(
        self,
        period: ReportPeriod,
        *,
        agent: str | None = None,
        queue: str | None = None,
        group: Group = Group.TOTAL,
    ) -> list[dict[str, Any]]:
        """One row per agent (interface, `/n` dropped), and per day/hour when grouped.

        With `queue`, the call figures count that queue's calls only; the state times
        (pause, wrap-up …) are the agent's, whatever the queue.
        """
        wanted = interface_key(agent) if agent else None
        table = _table(group)
        keys = _group_columns(group, table)
        query: Select[Any] = (
            select(
                *keys,
                table.agent,
                func.max(table.agent_name).label("agent_name"),
                func.max(case((table.queue != "", 1), else_=0)).label("took_queue_calls"),
                *_sums(table),
            )
            .where(table.day >= period.start, table.day <= period.end)
            .where(table.agent != "")
            .group_by(*keys, table.agent)
        )
        if wanted:
            query = query.where(table.agent == wanted)
        if queue:
            query = query.where(table.queue == queue)
        times: Any = AgentStateDay if table is ReportDay else AgentStateHour
        state_keys = _group_columns(group, times)
        states: Select[Any] = (
            select(
                *state_keys,
                times.agent,
                times.state,
                times.reason,
                func.sum(times.seconds).label("seconds"),
            )
            .where(times.day >= period.start, times.day <= period.end)
            .group_by(*state_keys, times.agent, times.state, times.reason)
        )
        if wanted:
            states = states.where(times.agent == wanted)
        async with self.db.session() as session:
            call_rows = (await session.execute(query)).all()
            state_rows = (await session.execute(states)).all()
        width = len(keys)
        labels_of: dict[tuple[Any, ...], dict[str, Any]] = {}

        def labels(values: tuple[Any, ...]) -> dict[str, Any]:
            found = labels_of.get(values)
            if found is None:
                found = labels_of[values] = _labels(group, values)
            return found

        known = await self.agent_keys() if self.agent_keys is not None else None
        # an agent is a Trubka user's interface, a queue member, or took a queue call in
        # the period; a mistyped dial (`Local/12@pstn-out`) is none of them
        if known is not None:
            known = known | {agent_key(r.agent) for r in call_rows if r.took_queue_calls}

        def is_agent(interface: str) -> bool:
            return known is None or agent_key(interface) in known

        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in call_rows:
            if not is_agent(row.agent):
                continue
            group_values = tuple(row[:width])
            rows[(*group_values, row.agent)] = {
                "agent_interface": row.agent,
                "agent_name": row.agent_name,
                **labels(group_values),
                **agent_figures(_totals(row)),
            }
        seconds_of: dict[tuple[Any, ...], dict[str, float]] = {}
        reasons_of: dict[tuple[Any, ...], dict[str, float]] = {}
        for *group_values, agent_id, state, reason, seconds in state_rows:
            field = STATE_FIELDS.get(state)
            if field is None:
                continue
            key = (*group_values, agent_id)
            if key not in rows:
                if queue or not is_agent(agent_id):
                    continue  # a queue filter lists the agents who took that queue's calls
                rows[key] = {
                    "agent_interface": agent_id,
                    "agent_name": None,
                    **labels(tuple(group_values)),
                    **agent_figures(Totals()),
                }
            sums = seconds_of.setdefault(key, {})
            sums[field] = sums.get(field, 0.0) + float(seconds or 0.0)
            if state == "paused":
                per_reason = reasons_of.setdefault(key, {})
                per_reason[reason or ""] = per_reason.get(reason or "", 0.0) + float(seconds or 0.0)
        for key, item in rows.items():
            sums = seconds_of.get(key, {})
            for field in STATE_FIELDS.values():
                item[field] = round(sums.get(field, 0.0), 1)
            item["logged_in_seconds"] = round(sum(sums.values()), 1)
            item["pause_reasons"] = {r: round(s, 1) for r, s in reasons_of.get(key, {}).items()}
            answered = item["answered"]
            handled = item["talk_seconds"] + item["wrap_up_seconds"]
            item["aht_with_wrap_up_seconds"] = round(handled / answered, 1) if answered else None
        return sorted(rows.values(), key=_agent_order)

    # --- lines (the DIDs customers dialled) ----------------------------------------------
    async def lines(
        self, period: ReportPeriod, *, group: Group = Group.TOTAL
    ) -> list[dict[str, Any]]:
        """One row per line (the DID an inbound call dialled: its `called_number`), per day
        with `Group.DAY`: every inbound call once, whether it went through a queue
        (`queued`) or was routed straight to a person (`routed`).

        Read from `calls` a day at a time (the rollups have no line dimension)."""
        if group not in (Group.TOTAL, Group.DAY):
            raise ReportParameterError("group", "the lines report is grouped by total or day")
        per_line: dict[tuple[str, str], tuple[Totals, dict[str, int]]] = {}
        day = period.start
        while day <= period.end:
            label = day.isoformat() if group is Group.DAY else ""
            for (
                line,
                queue,
                disposition,
                has_agent,
                within,
                count,
                hold,
                talk,
                longest,
            ) in await self._line_rows(day):
                totals, counts = per_line.setdefault(
                    (label, line), (Totals(), {"queued": 0, "routed": 0})
                )
                totals.add_calls(
                    queue=queue,
                    direction="inbound",
                    disposition=disposition,
                    has_agent=bool(has_agent),
                    within_sl=bool(within),
                    count=int(count),
                    hold=float(hold or 0.0),
                    talk=float(talk or 0.0),
                    max_hold=float(longest or 0.0),
                )
                counts["queued" if queue else "routed"] += int(count)
            day += timedelta(days=1)
        out = []
        for (label, line), (totals, counts) in sorted(per_line.items()):
            item: dict[str, Any] = {"day": label} if group is Group.DAY else {}
            item.update(line=line or None, **counts, **queue_figures(totals))
            out.append(item)
        return out

    async def _line_rows(self, day: date) -> list[tuple[Any, ...]]:
        calls = cast(Table, CallRow.__table__).c
        tz = self.config.timezone
        queue = func.coalesce(calls.queue, "")
        hold = func.coalesce(calls.queue_hold_seconds, calls.wait_seconds)
        default = literal(self.config.service_level_seconds, Integer)
        thresholds = dict(sorted(self.config.thresholds().items()))
        threshold = case(thresholds, value=queue, else_=default) if thresholds else default
        each = (
            select(
                func.coalesce(calls.called_number, "").label("line"),
                queue.label("queue"),
                calls.disposition,
                case((calls.agent_interface.is_(None), 0), else_=1).label("has_agent"),
                case((hold <= threshold, 1), else_=0).label("within_sl"),
                hold.label("hold"),
                func.coalesce(calls.queue_talk_seconds, calls.talk_seconds).label("talk"),
            )
            .where(calls.direction == "inbound")
            .where(calls.started_at >= local_midnight(day, tz))
            .where(calls.started_at < local_midnight(day + timedelta(days=1), tz))
            .subquery("each_call")
        )
        keys = (each.c.line, each.c.queue, each.c.disposition, each.c.has_agent, each.c.within_sl)
        query = select(
            *keys,
            func.count(),
            func.sum(each.c.hold),
            func.sum(each.c.talk),
            func.max(each.c.hold),
        ).group_by(*keys)
        async with self.db.session() as session:
            return [tuple(row) for row in (await session.execute(query)).all()]

    # --- today (the live view's figures) -----------------------------------------------
    async def today(self, now: datetime | None = None) -> TodayFigures:
        moment = now or datetime.now(UTC)
        day = moment.astimezone(self.config.timezone).date()
        period = ReportPeriod(day, day)
        queues = await self.queues(period)
        agents = await self.agents(period)
        return TodayFigures(
            day=day,
            queues={row["queue"]: row for row in queues},
            agents={row["agent_interface"]: row for row in agents},
        )


def _agent_order(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item.get("day") or "",
        item.get("hour", -1),
        item["agent_name"] or "",
        item["agent_interface"],
    )


class TodayFigures:
    """Today's report rows by queue and by agent interface key."""

    __slots__ = ("agents", "day", "queues")

    def __init__(
        self, day: date, queues: dict[str, dict[str, Any]], agents: dict[str, dict[str, Any]]
    ):
        self.day = day
        self.queues = queues
        self.agents = agents

    @classmethod
    def empty(cls, day: date) -> TodayFigures:
        return cls(day, {}, {})

    def queue(self, name: str) -> dict[str, Any]:
        row = self.queues.get(name)
        if row is not None:
            return {k: v for k, v in row.items() if k != "queue"}
        return queue_figures(Totals())

    def agent(self, key: str) -> dict[str, Any] | None:
        return self.agents.get(key)
