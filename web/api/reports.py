"""`/api/reports/…`: queue, line, agent and missed-call reports as JSON or CSV.

Every JSON report carries `definitions`: what each of its figures counts
(:data:`supervisor.figures.FIGURE_DEFINITIONS`).

Parameters are read as text and validated by :mod:`supervisor.periods` so a bad one is
answered with a message naming it (HTTP 422), e.g.
`{"detail": "end: 2026-10-01 is before start 2026-11-01", "parameter": "end"}`.
A `queue`/`agent` filter that matches nothing gives an empty list (a queue may simply
have had no calls in the period). The queue report's `pbx` keeps one PBX's calls
(TRUBKA_PBXES' name; without it every PBX's are summed).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from supervisor.errors import ReportParameterError
from supervisor.export import columns_of, to_csv
from supervisor.figures import FIGURE_DEFINITIONS
from supervisor.periods import ReportPeriod, parse_period
from supervisor.reports import Group, parse_group
from supervisor.service import Supervisor
from web.api.access import SUPERVISOR_ONLY
from web.deps import get_services
from web.params import PageNumber

router = APIRouter(prefix="/api/reports", tags=["reports"], dependencies=SUPERVISOR_ONLY)

QUEUE_COLUMNS = [
    "day", "hour", "queue", "offered", "answered", "abandoned", "unanswered",
    "answered_within_sl", "abandoned_within_sl", "sl_threshold_seconds", "service_level",
    "asa_seconds", "aht_seconds", "abandon_rate", "answer_rate", "avg_abandon_seconds",
    "longest_wait_seconds", "talk_seconds", "servicelevel_perf", "servicelevel_perf2",
    "service_level_seconds", "service_level_source",
]  # fmt: skip
LINE_COLUMNS = [
    "day", "line", "offered", "queued", "routed", "answered", "abandoned", "unanswered",
    "answered_within_sl", "abandoned_within_sl", "service_level", "asa_seconds",
    "aht_seconds", "abandon_rate", "answer_rate", "longest_wait_seconds", "talk_seconds",
]  # fmt: skip
AGENT_COLUMNS = [
    "day", "hour", "agent_interface", "agent_name", "answered", "answered_within_sl",
    "talk_seconds", "aht_seconds", "aht_with_wrap_up_seconds", "asa_seconds", "outbound",
    "outbound_answered", "outbound_talk_seconds", "logged_in_seconds", "available_seconds",
    "ringing_seconds", "on_call_seconds", "wrap_up_seconds", "pause_seconds",
    "unavailable_seconds", "pause_reasons",
]  # fmt: skip
MISSED_COLUMNS = [
    "started_at", "linkedid", "caller_number", "caller_name", "queue", "disposition",
    "wait_seconds", "contact_id", "returned", "callback_task",
]  # fmt: skip


def get_supervisor(request: Request) -> Supervisor:
    supervisor = get_services(request).supervisor
    assert isinstance(supervisor, Supervisor)
    return supervisor


SupervisorDep = Annotated[Supervisor, Depends(get_supervisor)]
Text = Annotated[str | None, Query()]
Pbx = Annotated[
    str | None,
    Query(max_length=64, description="only this PBX's calls (TRUBKA_PBXES' name)"),
]


def _format(value: str | None, forced: str | None = None) -> str:
    fmt = (forced or value or "json").strip().lower()
    if fmt not in ("json", "csv"):
        raise ReportParameterError("format", f"{value!r} is not json or csv")
    return fmt


def _csv(
    rows: list[dict[str, Any]], columns: list[str], name: str, period: ReportPeriod
) -> Response:
    present = [c for c in columns if any(c in row for row in rows)] or [
        c for c in columns if c not in ("day", "hour")
    ]
    body = to_csv(rows, columns_of(rows, present))
    filename = f"{name}-{period.start}-{period.end}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _meta(supervisor: Supervisor, period: ReportPeriod, group: Group) -> dict[str, Any]:
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "timezone": supervisor.config.timezone.key,
        "group": group.value,
        "definitions": FIGURE_DEFINITIONS,
    }


async def _queues(
    supervisor: Supervisor, start: str | None, end: str | None, queue: str | None,
    group: str | None, fmt: str, pbx: str | None = None,
) -> Any:  # fmt: skip
    period = parse_period(start, end)
    grouping = parse_group(group)
    rows = await supervisor.reports.queues(
        period, queue=queue or None, group=grouping, pbx=(pbx or "").strip() or None
    )
    if fmt == "csv":
        return _csv(rows, QUEUE_COLUMNS, "queues", period)
    meta = _meta(supervisor, period, grouping)
    if pbx and pbx.strip():
        meta["pbx"] = pbx.strip()
    return {**meta, "queues": rows}


@router.get("/queues")
async def queues_report(
    supervisor: SupervisorDep, start: Text = None, end: Text = None, queue: Text = None,
    group: Text = None, format: Text = None, pbx: Pbx = None,
) -> Any:  # fmt: skip
    """Per queue: offered, answered, abandoned, service level, ASA, AHT, abandon rate."""
    return await _queues(supervisor, start, end, queue, group, _format(format), pbx)


@router.get("/queues.csv")
async def queues_report_csv(
    supervisor: SupervisorDep, start: Text = None, end: Text = None, queue: Text = None,
    group: Text = None, pbx: Pbx = None,
) -> Any:  # fmt: skip
    return await _queues(supervisor, start, end, queue, group, "csv", pbx)


async def _lines(
    supervisor: Supervisor, start: str | None, end: str | None, group: str | None, fmt: str
) -> Any:
    period = parse_period(start, end)
    grouping = parse_group(group)
    rows = await supervisor.reports.lines(period, group=grouping)
    if fmt == "csv":
        return _csv(rows, LINE_COLUMNS, "lines", period)
    return {**_meta(supervisor, period, grouping), "lines": rows}


@router.get("/lines")
async def lines_report(
    supervisor: SupervisorDep, start: Text = None, end: Text = None, group: Text = None,
    format: Text = None,
) -> Any:  # fmt: skip
    """Per line (the DID dialled): every inbound call once, queued or routed to a person."""
    return await _lines(supervisor, start, end, group, _format(format))


@router.get("/lines.csv")
async def lines_report_csv(
    supervisor: SupervisorDep, start: Text = None, end: Text = None, group: Text = None
) -> Any:
    return await _lines(supervisor, start, end, group, "csv")


async def _agents(
    supervisor: Supervisor, start: str | None, end: str | None, agent: str | None,
    queue: str | None, group: str | None, fmt: str,
) -> Any:  # fmt: skip
    period = parse_period(start, end)
    grouping = parse_group(group)
    rows = await supervisor.reports.agents(
        period, agent=agent or None, queue=queue or None, group=grouping
    )
    if fmt == "csv":
        return _csv(rows, AGENT_COLUMNS, "agents", period)
    return {**_meta(supervisor, period, grouping), "agents": rows}


@router.get("/agents")
async def agents_report(
    supervisor: SupervisorDep, start: Text = None, end: Text = None, agent: Text = None,
    queue: Text = None, group: Text = None, format: Text = None,
) -> Any:  # fmt: skip
    """Per agent: answered calls, talk time, AHT, ASA, outbound calls, time per state."""
    return await _agents(supervisor, start, end, agent, queue, group, _format(format))


@router.get("/agents.csv")
async def agents_report_csv(
    supervisor: SupervisorDep, start: Text = None, end: Text = None, agent: Text = None,
    queue: Text = None, group: Text = None,
) -> Any:  # fmt: skip
    return await _agents(supervisor, start, end, agent, queue, group, "csv")


@router.get("/missed")
async def missed_calls(
    supervisor: SupervisorDep, start: Text = None, end: Text = None, queue: Text = None,
    limit: PageNumber = 100, offset: PageNumber = 0,
    format: Text = None,
) -> Any:  # fmt: skip
    """Missed calls, newest first, with whether they were called back."""
    fmt = _format(format)
    period = parse_period(start, end)
    result = await supervisor.missed.list(period, queue=queue or None, limit=limit, offset=offset)
    if fmt == "csv":
        return _csv(result["calls"], MISSED_COLUMNS, "missed", period)
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "timezone": supervisor.config.timezone.key,
        **result,
    }
