"""The admin's settings pages: `/admin/pause-reasons`, `/admin/settings`, `/admin/system`.

- `/admin/pause-reasons` (admins): the agents' pause menu — add, change, remove;
- `/admin/settings` (supervisors read, admins change): each queue's service-level target
  and recording retention, and where each comes from (set here, the environment,
  Asterisk's `servicelevel`, the default);
- `/admin/system` (admins): the AMI and FastAGI links, recordings storage and jobs (retry
  the failed ones), backups (take one now), the database's migration revision, the version.

Forms post to the page with the CSRF token and work without JavaScript; the JSON API is
`web.api.admin_settings` and `web.api.admin_system`, the services
`supervisor.admin_settings` and `trubka.admin_system` (through `web.ports.AdminSystem`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.users import UserInfo
from kernel.errors import DomainError
from supervisor.admin_settings import AdminSettings
from supervisor.audit import Actor
from web.api.admin_settings import settings_json
from web.api.routing_rules import actor
from web.auth import csrf_valid
from web.i18n import N_, translations
from web.pages import page_language, page_role
from web.pages.admin.coded_lists import CodedList, change
from web.pages.admin.layout import render_admin

router = APIRouter(include_in_schema=False)

Reader = Annotated[UserInfo, Depends(page_role("supervisor", "admin"))]
Admin = Annotated[UserInfo, Depends(page_role("admin"))]

EXPIRED = N_("The form expired; reload the page and try again.")
SOURCES = {
    "admin": N_("set here"),
    "setting": N_("environment"),
    "asterisk": N_("Asterisk"),
    "default": N_("default"),
}
JOB_STATES = {
    "pending": N_("waiting"),
    "processing": N_("in work"),
    "done": N_("done"),
    "empty": N_("empty"),
    "failed": N_("failed"),
    "missing": N_("file missing"),
    "purged": N_("purged"),
}
_PAIR = re.compile(r"^\s*([A-Za-z0-9_.-]{1,80})\s*[=:]\s*(-?\d{1,6})\s*$")


def _settings(request: Request) -> AdminSettings:
    settings: AdminSettings = request.app.state.services.admin_settings
    return settings


def _gettext(request: Request, user: UserInfo) -> Any:
    return translations(page_language(request, user)).gettext


def parse_pairs(text: str) -> dict[str, int] | None:
    """`support=30, sales=15` (commas or lines) → {"support": 30, "sales": 15}; None if bad."""
    out: dict[str, int] = {}
    for part in re.split(r"[,\n;]", text):
        if not part.strip():
            continue
        match = _PAIR.fullmatch(part)
        if match is None:
            return None
        out[match.group(1)] = int(match.group(2))
    return out


def pairs_text(values: dict[str, int]) -> str:
    return ", ".join(f"{queue}={value}" for queue, value in sorted(values.items()))


# --- pause reasons ----------------------------------------------------------------------


async def _pause_page(
    request: Request, user: UserInfo, *, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    context = {
        "reasons": _settings(request).pause_reasons(),
        "message": message,
        "done": request.query_params.get("done"),
    }
    return render_admin(
        request, "admin/pause_reasons.html", context, user=user, status_code=status_code
    )


def _reason_form(label_en: str, label_ru: str, productive: str, max_minutes: str) -> dict[str, Any]:
    minutes = max_minutes.strip()
    return {
        "labels": {"en": label_en, "ru": label_ru},
        "productive": bool(productive),
        "max_minutes": int(minutes) if minutes.isdigit() else (minutes or None),
    }


@router.get("/admin/pause-reasons", response_class=HTMLResponse)
async def pause_reasons_page(request: Request, user: Admin) -> HTMLResponse:
    return await _pause_page(request, user)


@router.post("/admin/pause-reasons", response_class=HTMLResponse)
async def pause_reason_add(
    request: Request,
    user: Admin,
    code: Annotated[str, Form(max_length=40)] = "",
    label_en: Annotated[str, Form(max_length=80)] = "",
    label_ru: Annotated[str, Form(max_length=80)] = "",
    productive: Annotated[str, Form(max_length=5)] = "",
    max_minutes: Annotated[str, Form(max_length=6)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return await _change_reason(
        request,
        user,
        csrf_token,
        None,
        {"code": code, **_reason_form(label_en, label_ru, productive, max_minutes)},
    )


@router.post("/admin/pause-reasons/{code}", response_class=HTMLResponse)
async def pause_reason_change(
    code: str,
    request: Request,
    user: Admin,
    label_en: Annotated[str, Form(max_length=80)] = "",
    label_ru: Annotated[str, Form(max_length=80)] = "",
    productive: Annotated[str, Form(max_length=5)] = "",
    max_minutes: Annotated[str, Form(max_length=6)] = "",
    delete: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    data = None if delete else _reason_form(label_en, label_ru, productive, max_minutes)
    return await _change_reason(request, user, csrf_token, code, data)


async def _change_reason(
    request: Request,
    user: UserInfo,
    csrf_token: str,
    code: str | None,
    data: dict[str, Any] | None,
) -> Response:
    settings = _settings(request)

    async def delete(code: str, who: Actor) -> str:
        await settings.delete_pause_reason(code, who)
        return "1"

    entries = CodedList(
        "/admin/pause-reasons",
        _pause_page,
        settings.add_pause_reason,
        settings.update_pause_reason,
        delete,
    )
    return await change(entries, request, user, csrf_token, code, data)


# --- service levels and retention ------------------------------------------------------


async def _settings_page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = _settings(request)
    context = {
        "data": settings_json(request, settings),
        "levels_text": pairs_text(settings.service_levels()),
        "retention_text": pairs_text(settings.retention()),
        "sources": SOURCES,
        "editable": str(user.role) == "admin",
        "message": message,
        "done": request.query_params.get("done"),
    }
    return render_admin(request, "admin/settings.html", context, user=user, status_code=status_code)


@router.get("/admin/settings", response_class=HTMLResponse)
async def settings_page(request: Request, user: Reader) -> HTMLResponse:
    return await _settings_page(request, user)


@router.post("/admin/settings", response_class=HTMLResponse)
async def settings_save(
    request: Request,
    user: Admin,
    what: Annotated[str, Form(max_length=20)] = "",
    values: Annotated[str, Form(max_length=10_000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    gettext = _gettext(request, user)
    if not csrf_valid(request, csrf_token):
        return await _settings_page(request, user, message=gettext(EXPIRED), status_code=403)
    settings, who = _settings(request), actor(user, request)
    if what == "legal_hold":
        queues = [q.strip() for q in re.split(r"[,\s;]+", values) if q.strip()]
        try:
            await settings.save_legal_hold(queues, who)
        except DomainError as exc:
            message = gettext("Not saved: %(problem)s") % {"problem": exc.message}
            return await _settings_page(request, user, message=message, status_code=422)
        return RedirectResponse("/admin/settings?done=1", status_code=303)
    pairs = parse_pairs(values)
    if pairs is None or what not in ("service_levels", "retention"):
        message = gettext('Write each queue as "queue=number", separated by commas.')
        return await _settings_page(request, user, message=message, status_code=422)
    try:
        if what == "service_levels":
            await settings.save_service_levels(pairs, who)
        else:
            await settings.save_retention(pairs, who)
    except DomainError as exc:
        message = gettext("Not saved: %(problem)s") % {"problem": exc.message}
        return await _settings_page(request, user, message=message, status_code=422)
    return RedirectResponse("/admin/settings?done=1", status_code=303)


# --- system ------------------------------------------------------------------------------


async def _system_page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    info = await request.app.state.services.system.info()
    context = {
        "info": info,
        "job_states": JOB_STATES,
        "message": message,
        "done": request.query_params.get("done"),
    }
    return render_admin(request, "admin/system.html", context, user=user, status_code=status_code)


@router.get("/admin/system", response_class=HTMLResponse)
async def system_page(request: Request, user: Admin) -> HTMLResponse:
    return await _system_page(request, user)


@router.post("/admin/system", response_class=HTMLResponse)
async def system_action(
    request: Request,
    user: Admin,
    action: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    gettext = _gettext(request, user)
    if not csrf_valid(request, csrf_token):
        return await _system_page(request, user, message=gettext(EXPIRED), status_code=403)
    system, who = request.app.state.services.system, actor(user, request)
    try:
        if action == "backup":
            await system.backup(who)
        elif action == "retry":
            await system.retry_recordings(who)
        else:
            return await _system_page(request, user, status_code=422)
    except DomainError as exc:
        message = gettext("Not done: %(problem)s") % {"problem": exc.message}
        return await _system_page(request, user, message=message, status_code=400)
    return RedirectResponse(f"/admin/system?done={action}", status_code=303)
