"""`GET /api/reports/sessions`: the agent sessions report (`supervisor.agent_sessions`) —
panel sign-ins/outs, queue logins/logouts, time per pause reason, wrap-up, occupancy.

The period is `start`/`end` (YYYY-MM-DD, inclusive, as every report) or a `preset`:
`today`, `yesterday`, `this_week`, `last_week`, `this_month`, `last_month`, in the call
center's time zone (`supervisor.presets`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from supervisor.agent_sessions import SESSION_DEFINITIONS
from supervisor.periods import parse_period
from supervisor.presets import local_today, preset_period
from web.api.access import SUPERVISOR_ONLY
from web.api.reports import SupervisorDep, Text
from web.api.views import ERRORS, Number, View
from web.deps import get_services
from web.report_extras import sessions_report

router = APIRouter(
    prefix="/api/reports", tags=["reports"], dependencies=SUPERVISOR_ONLY, responses=ERRORS
)


class AgentSessionRow(View):
    """One agent (`agent_interface` null: a user who signed in but was in no queue)."""

    agent_interface: str | None
    agent_name: str | None
    user_id: int | None
    panel_sign_ins: int
    first_sign_in: str | None
    last_sign_out: str | None
    queue_logins: int
    queue_logouts: int
    logged_in_seconds: Number
    available_seconds: Number
    on_call_seconds: Number
    pause_seconds: Number
    pause_reasons: dict[str, Number]
    wrap_up_seconds: Number
    occupancy: Number | None


class SessionsReport(View):
    start: str
    end: str
    timezone: str
    agents: list[AgentSessionRow]
    definitions: dict[str, str]


@router.get("/sessions", response_model=SessionsReport)
async def sessions(
    request: Request,
    supervisor: SupervisorDep,
    start: Text = None,
    end: Text = None,
    preset: Text = None,
) -> dict[str, Any]:
    """The agent sessions report for a period (or a preset)."""
    tz = supervisor.config.timezone
    if preset and not start:
        period = preset_period(preset.strip(), local_today(tz))
    else:
        period = parse_period(start, end)
    rows = await supervisor.reports.agents(period)
    directory = get_services(request).crm.directory
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "timezone": tz.key,
        "agents": await sessions_report(supervisor, directory, period, rows),
        "definitions": SESSION_DEFINITIONS,
    }
