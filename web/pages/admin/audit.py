"""`/admin/audit`: the audit log — admin changes (who, when, before → after) and the
supervisors' actions — filtered by kind, action, who, what and when, with a CSV link
(`GET /api/audit?format=csv` with the same filters)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from supervisor.audit import AuditAction, audit_time
from supervisor.errors import ReportParameterError
from web.deps import get_services
from web.i18n import N_, translations
from web.pages import page_language
from web.pages.admin.layout import AdminPage, render_admin

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
ACTIONS = {
    AuditAction.USER_CREATE: N_("User created"),
    AuditAction.USER_UPDATE: N_("User changed"),
    AuditAction.USER_DISABLE: N_("User disabled"),
    AuditAction.USER_ENABLE: N_("User enabled"),
    AuditAction.USER_PASSWORD: N_("New password"),
    AuditAction.MEMBER_ADD: N_("Added to a queue"),
    AuditAction.MEMBER_PENALTY: N_("Penalty changed"),
    AuditAction.MEMBER_REMOVE: N_("Removed from a queue"),
    AuditAction.LISTEN: N_("Listen"),
    AuditAction.WHISPER: N_("Whisper"),
    AuditAction.BARGE: N_("Barge"),
    AuditAction.PAUSE: N_("Pause"),
    AuditAction.UNPAUSE: N_("Unpause"),
    AuditAction.QUEUE_REMOVE: N_("Logged out of a queue"),
    AuditAction.HANGUP: N_("Hang up"),
}
KINDS = (
    ("", N_("Everything")),
    ("admin", N_("Admin changes")),
    ("supervisor", N_("Supervisor actions")),
)
OUTCOMES = {"done": N_("done"), "refused": N_("refused"), "failed": N_("failed")}
FILTERS = ("kind", "action", "login", "target", "since", "until")
FIELD_LABELS = {
    "login": N_("Login"),
    "name": N_("Name"),
    "role": N_("Role"),
    "language": N_("Language"),
    "active": N_("Active"),
    "interfaces": N_("Phone interface"),
    "queues": N_("Queues"),
    "queue": N_("Queue"),
    "penalty": N_("Penalty"),
    "password": N_("Password"),
}
VALUE_LABELS = {
    "agent": N_("Agent"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Admin"),
    "changed": N_("changed"),
}


def _value(value: Any, gettext: Callable[[str], str]) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext(N_("yes")) if value else gettext(N_("no"))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, str) and value in VALUE_LABELS:
        return gettext(VALUE_LABELS[value])
    return str(value)


def change_rows(
    before: dict[str, Any] | None, after: dict[str, Any] | None, gettext: Callable[[str], str]
) -> list[tuple[str, str | None, str]]:
    """An admin change as (field, before or None for a new thing, after) in words."""
    keys = list(after or before or {})
    return [
        (
            gettext(FIELD_LABELS[key]) if key in FIELD_LABELS else key,
            _value(before.get(key), gettext) if before is not None else None,
            _value(after.get(key), gettext) if after is not None else "—",
        )
        for key in keys
    ]


def _through(moment: datetime | None, text: str) -> datetime | None:
    """The page's "until" date includes that day (the API's `until` is exclusive)."""
    if moment is not None and len(text) == 10:  # a date, not a time
        return moment + timedelta(days=1)
    return moment


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(request: Request, user: AdminPage) -> HTMLResponse:
    gettext = translations(page_language(request, user)).gettext
    params = {k: request.query_params.get(k, "").strip()[:200] for k in FILTERS}
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    error = None
    result: dict[str, Any] = {"total": 0, "entries": []}
    try:
        if params["action"] and params["action"] not in {a.value for a in AuditAction}:
            params["action"] = ""
        result = await get_services(request).supervisor.audit.list(
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            action=params["action"] or None,
            login=params["login"] or None,
            kind=params["kind"] if params["kind"] in ("admin", "supervisor") else None,
            target=params["target"] or None,
            since=audit_time("since", params["since"]),
            until=_through(audit_time("until", params["until"]), params["until"]),
        )
    except ReportParameterError as exc:
        error = gettext(N_("Check the filter “{field}”: a date like 2026-12-31.")).format(
            field=exc.field or ""
        )
    query = {k: v for k, v in params.items() if v}
    pages = max(1, -(-int(result["total"]) // PAGE_SIZE))
    return render_admin(
        request,
        "admin/audit.html",
        {
            "entries": result["entries"],
            "total": result["total"],
            "params": params,
            "actions": {a.value: label for a, label in ACTIONS.items()},
            "kinds": KINDS,
            "outcomes": OUTCOMES,
            "error": error,
            "page": page,
            "pages": pages,
            "csv_url": "/api/audit?" + urlencode({**query, "format": "csv", "limit": 500}),
            "page_url": lambda n: "/admin/audit?" + urlencode({**query, "page": n}),
            "change_rows": lambda e: change_rows(e["before"], e["after"], gettext),
        },
        user=user,
    )
