"""The supervisor's pages: `/supervisor` (live view), `/wallboard` (the TV), `/reports`.

The live pages are rendered with the current picture (readable at once, and without
JavaScript) and then follow the `live_update` messages of `/ws`
(`web/static/js/live.js`). The report page is plain server-side HTML: a GET form, tables,
SVG charts (`web.charts`) and CSV links to `/api/reports/…`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from crm.users import UserInfo
from supervisor.errors import ReportParameterError
from supervisor.feed import WAITING_LIMIT
from supervisor.figures import FIGURE_DEFINITIONS
from supervisor.periods import ReportPeriod, parse_period
from supervisor.reports import Group
from supervisor.service import Supervisor
from web.action_texts import ACTION_TEXTS
from web.alert_strings import ALERT_STRINGS
from web.api.live import current_live_view
from web.charts import Series, bar_chart
from web.deps import get_services
from web.i18n import N_, translations
from web.labels import PAUSE_REASONS as PAUSE_REASON_WORDS
from web.pages import page_language, page_role, render
from web.params import PageNumber
from web.pbxes import page_live_view, pbx_states, summed_totals, wallboard_views
from web.report_extras import extras_context, sessions_report
from web.report_forecast import forecast_context

router = APIRouter(include_in_schema=False)

SupervisorPage = Annotated[UserInfo, Depends(page_role("supervisor", "admin"))]

PAUSE_REASONS = (
    ("lunch", N_("Lunch")),
    ("break", N_("Break")),
    ("training", N_("Training")),
    ("meeting", N_("Meeting")),
    ("after-call work", N_("After-call work")),
    ("technical problem", N_("Technical problem")),
)
STATES = (
    ("available", N_("Available")),
    ("ringing", N_("Ringing")),
    ("on_call", N_("On a call")),
    ("wrap_up", N_("Wrap-up")),
    ("paused", N_("Paused")),
    ("unavailable", N_("Unavailable")),
    ("logged_out", N_("Logged out")),
)
# Strings the pages' scripts show, translated on the server (no language in the JS).
SCRIPT_STRINGS = {
    "connected": N_("Live"),
    "connecting": N_("Connecting…"),
    "disconnected": N_("Offline: reconnecting…"),
    "no_waiting": N_("Nobody is waiting."),
    "more_waiting": N_("and {n} more"),
    "listen": N_("Listen"),
    "whisper": N_("Whisper"),
    "barge": N_("Barge"),
    "pause": N_("Pause"),
    "unpause": N_("Unpause"),
    "confirm_hangup": N_("Hang up the call of {agent}?"),
    "ringing_your_phone": N_("Your phone {phone} is ringing: pick it up to {action}."),
    "done": N_("Done: {message}"),
    "failed": N_("Not done: {message}"),
    "on_target": N_("on target"),
    "warning": N_("warning"),
    "below_target": N_("below target"),
    "no_calls_yet": N_("no figure yet"),
    "outbound": N_("outbound"),
    "ringing_call": N_("ringing"),
    "talking_call": N_("talking"),
    "listened_by": N_("listened by {name}"),
    "target": N_("target {target}%"),
    "threshold": N_("within {seconds} s"),
    **{f"state_{key}": label for key, label in STATES},
    **ACTION_TEXTS,  # our own words for the actions' results (not the PBX's)
    **{f"reason_{key}": label for key, label in PAUSE_REASON_WORDS.items()},
    **ALERT_STRINGS,  # the supervisor alerts and a pending pause (static/js/alerts.js)
}


def _strings(request: Request, user: UserInfo) -> dict[str, str]:
    catalog = translations(page_language(request, user))
    return {key: catalog.gettext(message) for key, message in SCRIPT_STRINGS.items()}


def _supervisor(request: Request) -> Supervisor:
    supervisor = get_services(request).supervisor
    assert isinstance(supervisor, Supervisor)
    return supervisor


def _levels(request: Request) -> dict[str, float]:
    settings = get_services(request).settings
    return {
        "target": float(settings.service_level_target),
        "warning": float(settings.service_level_warning),
    }


def _pause_menu(request: Request, user: UserInfo) -> dict[str, Any]:
    """The pause reasons of `/admin/pause-reasons` (else the built-in ones) and their
    limits, which `pause-limits.js` marks on the agents who pause longer."""
    settings = getattr(get_services(request), "admin_settings", None)
    if settings is None:
        return {"pause_reasons": PAUSE_REASONS, "pause_limits": {}}
    lang = page_language(request, user)
    reasons = settings.pause_reasons()
    over = translations(lang).gettext("over the {minutes} min limit")
    return {
        "pause_reasons": [(r.code, r.label(lang)) for r in reasons],
        "pause_limits": {
            "limits": {r.code: r.max_minutes * 60 for r in reasons if r.max_minutes},
            "over": over,
        },
    }


@router.get("/supervisor", response_class=HTMLResponse)
async def live_page(
    request: Request, user: SupervisorPage, pbx: Annotated[str | None, Query(max_length=64)] = None
) -> HTMLResponse:
    services = get_services(request)
    # Several PBXes: one at a time, chosen with the page's select (the first by default).
    several = await page_live_view(services, _supervisor(request), pbx, WAITING_LIMIT)
    if several is None:
        live = await current_live_view(request, waiting_limit=WAITING_LIMIT)
        shown: str | None = None
        names: list[str] = []
    else:
        live, shown, names = several
    primary = not names or shown == names[0]
    return render(
        request,
        "supervisor.html",
        {
            "live": live,
            "strings": _strings(request, user),
            "levels": _levels(request),
            "states": dict(STATES),
            **_pause_menu(request, user),
            "phones": list(user.interfaces),
            "is_admin": str(user.role) == "admin",
            # the actions go to the PBX where the agent is (the page names the one shown)
            "actions_enabled": getattr(services, "pbx", None) is not None,
            "region": services.settings.default_region,
            "pbxes": names,
            "pbx": shown,
            "pbx_feed": None if primary else shown,  # the tag of its pushed updates
        },
        user=user,
    )


@router.get("/wallboard", response_class=HTMLResponse)
async def wallboard_page(
    request: Request,
    user: SupervisorPage,
    queues: str | None = None,
    pbx: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    services = get_services(request)
    chosen = [q.strip() for q in (queues or "").split(",") if q.strip()][:50]
    # Several PBXes: every one's queues, or the one ?pbx= names (web.pbxes)
    boards = await wallboard_views(services, _supervisor(request), pbx, WAITING_LIMIT)
    if boards is None:
        live = await current_live_view(request, waiting_limit=WAITING_LIMIT)
    else:
        live = {
            "totals": summed_totals(boards),
            "alerts": [alert for board in boards for alert in board["live"].get("alerts") or []],
        }
    return render(
        request,
        "wallboard.html",
        {
            "live": live,
            "boards": boards,
            "pbxes": list(pbx_states(services)) if boards is not None else [],
            "pbx": pbx if boards is not None and len(boards) == 1 else None,
            "strings": _strings(request, user),
            "levels": _levels(request),
            "chosen": chosen,
        },
        user=user,
    )


# --- reports -------------------------------------------------------------------------
@dataclass(slots=True)
class ReportForm:
    start: str
    end: str
    queue: str
    agent: str
    error: str | None = None
    error_field: str | None = None


def _today(supervisor: Supervisor) -> date:
    return datetime.now(UTC).astimezone(supervisor.config.timezone).date()


def _query(form: ReportForm, **extra: str) -> str:
    from urllib.parse import urlencode

    params = {"start": form.start, "end": form.end}
    if form.queue:
        params["queue"] = form.queue
    if form.agent and extra.pop("with_agent", "") == "1":
        params["agent"] = form.agent
    params.update({k: v for k, v in extra.items() if v})
    return urlencode(params)


def _pct(value: Any) -> float | None:
    return float(value) if value is not None else None


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(
    request: Request,
    user: SupervisorPage,
    start: str | None = None,
    end: str | None = None,
    queue: str | None = None,
    agent: str | None = None,
    offset: PageNumber = 0,
) -> HTMLResponse:
    supervisor = _supervisor(request)
    today = _today(supervisor).isoformat()
    form = ReportForm(
        start=(start or today).strip(),
        end=(end or start or today).strip(),
        queue=(queue or "").strip()[:80],
        agent=(agent or "").strip()[:128],
    )
    catalog = translations(page_language(request, user))
    _ = catalog.gettext
    context: dict[str, Any] = {"form": form, "is_admin": str(user.role) == "admin"}
    context.update(extras_context(_today(supervisor), _))
    period: ReportPeriod | None = None
    try:
        period = parse_period(form.start, form.end)
        if offset < 0:
            raise ReportParameterError("offset", "must not be negative")
    except ReportParameterError as exc:
        form.error, form.error_field = exc.reason, exc.parameter
    if period is None:
        context.update(period=None)
        return render(request, "reports.html", context, user=user, status_code=422)
    reports = supervisor.reports
    q = form.queue or None
    all_queues = await reports.queues(period)
    all_agents = await reports.agents(period)
    queues = [row for row in all_queues if not q or row["queue"] == q]
    agents = await reports.agents(period, agent=form.agent or None, queue=q)
    by_day = await reports.queues(period, queue=q, group=Group.DAY, combined=True)
    by_hour = await reports.queues(period, queue=q, group=Group.HOUR_OF_DAY, combined=True)
    missed = await supervisor.missed.list(period, queue=q, limit=100, offset=offset)
    lines = await reports.lines(period)
    queue_names = sorted(
        {row["queue"] for row in all_queues}
        | set(get_services(request).live.queues)
        | set(supervisor.config.queue_service_levels)
    )
    agent_choices = sorted(
        {
            (row["agent_interface"], row["agent_name"] or row["agent_interface"])
            for row in all_agents
        },
        key=lambda item: (item[1], item[0]),
    )
    labels = {
        "answered": _("Answered"),
        "abandoned": _("Abandoned"),
        "unanswered": _("Not answered"),
        "service_level": _("Service level"),
        "outbound": _("Outbound calls"),
    }
    context.update(
        period=period,
        queues=queues,
        agents=agents,
        by_day=by_day,
        by_hour=_all_hours(by_hour),
        missed=missed,
        lines=lines,
        definitions=FIGURE_DEFINITIONS,
        queue_names=queue_names,
        agent_choices=agent_choices,
        offset=offset,
        next_offset=offset + 100 if offset + 100 < missed["total"] else None,
        prev_offset=max(0, offset - 100) if offset > 0 else None,
        csv={
            "queues": "/api/reports/queues.csv?" + _query(form),
            "agents": "/api/reports/agents.csv?" + _query(form, with_agent="1"),
            "days": "/api/reports/queues.csv?" + _query(form, group="day"),
            "hours": "/api/reports/queues.csv?" + _query(form, group="hour_of_day"),
            "lines": "/api/reports/lines.csv?" + _query(form),
            "missed": "/api/reports/missed?" + _query(form, format="csv", limit="1000"),
        },
        page_query=_query(form, with_agent="1"),
        charts=_charts(queues, agents, by_day, _all_hours(by_hour), labels, _),
        pause_labels={key: _(label) for key, label in PAUSE_REASONS},
        sessions=await sessions_report(
            supervisor, get_services(request).crm.directory, period, all_agents
        ),
        audit=(await supervisor.audit.list(limit=50))["entries"]
        if str(user.role) == "admin"
        else None,
    )
    return render(request, "reports.html", context, user=user)


def _all_hours(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hours 0–23 in order; an hour without calls gets an empty row for the chart."""
    by_hour = {row["hour"]: row for row in rows}
    return [by_hour.get(hour, {"hour": hour, "empty": True}) for hour in range(24)]


def _charts(
    queues: list[dict[str, Any]],
    agents: list[dict[str, Any]],
    by_day: list[dict[str, Any]],
    by_hour: list[dict[str, Any]],
    labels: dict[str, str],
    _: Any,
) -> dict[str, Markup]:
    def call_series(rows: list[dict[str, Any]]) -> list[Series]:
        return [
            Series(labels["answered"], [r.get("answered") for r in rows], "#2e7d32"),
            Series(labels["abandoned"], [r.get("abandoned") for r in rows], "#c62828"),
            Series(labels["unanswered"], [r.get("unanswered") for r in rows], "#b26a00"),
        ]

    def sl_line(rows: list[dict[str, Any]]) -> Series:
        return Series(labels["service_level"], [_pct(r.get("service_level")) for r in rows])

    return {
        "queues": bar_chart(
            [r["queue"] for r in queues],
            call_series(queues),
            title=_("Calls per queue"),
            stacked=True,
            line=sl_line(queues),
        ),
        "agents": bar_chart(
            [r["agent_name"] or r["agent_interface"] for r in agents],
            [
                Series(labels["answered"], [r["answered"] for r in agents], "#2e7d32"),
                Series(labels["outbound"], [r["outbound"] for r in agents], "#1f6feb"),
            ],
            title=_("Calls per agent"),
        ),
        "days": bar_chart(
            [r["day"][5:] for r in by_day],
            call_series(by_day),
            title=_("Calls per day"),
            stacked=True,
            line=sl_line(by_day),
        ),
        "hours": bar_chart(
            [f"{r['hour']:02d}" for r in by_hour],
            call_series(by_hour),
            title=_("Calls per hour of the day"),
            stacked=True,
            line=sl_line(by_hour),
        ),
    }


# --- the sales forecast (web.report_forecast, docs/reports.md) ------------------------
@router.get("/reports/forecast", response_class=HTMLResponse)
async def forecast_page(
    request: Request,
    user: SupervisorPage,
    months: str = "6",
    owner_id: str = "",
    pipeline_id: str = "",
) -> HTMLResponse:
    lang = page_language(request, user)
    gettext = translations(lang).gettext
    wanted = int(months) if months.isdigit() else 6
    owner = int(owner_id) if owner_id.isdigit() and len(owner_id) < 16 else None
    pipeline = int(pipeline_id) if pipeline_id.isdigit() and len(pipeline_id) < 16 else None
    context = await forecast_context(
        request,
        lang,
        gettext,
        months=min(max(wanted, 1), 36),
        owner_id=owner,
        pipeline_id=pipeline,
    )
    context["is_admin"] = str(user.role) == "admin"
    return render(request, "reports/forecast.html", context, user=user)
