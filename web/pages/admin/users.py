"""`/admin/users`: the users (role, phone interface, queues, last sign-in, state now),
a new user, a user's page (edit, disable/enable, a new password shown once).

Forms post back to these pages (with the CSRF token) and go through the same audited
service as `/api/users` (`supervisor.people.People`). A disabled user's sessions end and
their sockets close at once; their calls, notes and history stay. The interface is
checked against what Asterisk knows: a warning, never a refusal.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.errors import CrmError, NotFound
from crm.users import UserInfo
from kernel.errors import DomainError
from web.api.users import audit_actor, close_sockets_after_change, people_of, queue_admin_of
from web.auth import csrf_valid
from web.deps import get_services
from web.i18n import N_, translations
from web.pages import page_language
from web.pages.admin.layout import PROBLEMS, AdminPage, problem_text, render_admin
from web.params import PathId

router = APIRouter(include_in_schema=False)

ROLES = (("agent", N_("Agent")), ("supervisor", N_("Supervisor")), ("admin", N_("Admin")))
FORM_EXPIRED = N_("The form expired: reload the page and try again.")
CHECK_FIELD = N_("Check the field “{field}”: {message}")
FIELDS = {
    "login": N_("Login"),
    "name": N_("Name"),
    "role": N_("Role"),
    "password": N_("Password"),
    "interfaces": N_("Phone interface"),
    "queues": N_("Queues"),
    "language": N_("Language"),
    "version": N_("Version"),
}
MESSAGES = {
    "created": N_("User created."),
    "saved": N_("Saved."),
    "disabled": N_("User disabled: their sessions ended."),
    "enabled": N_("User enabled."),
}
CONFLICT = N_("Someone else changed this meanwhile: check the form and save again.")
PBX_WARNING = N_("Saved, but Asterisk was not told: it is applied when Trubka connects to it.")
UNKNOWN_INTERFACE = N_("Asterisk has no PJSIP endpoint {interface}: check the phone's number.")
UNCHECKED_INTERFACE = N_("Asterisk could not be asked whether {interface} exists.")
STATES = {
    "available": N_("Available"),
    "ringing": N_("Ringing"),
    "on_call": N_("On a call"),
    "wrap_up": N_("Wrap-up"),
    "paused": N_("Paused"),
    "unavailable": N_("Unavailable"),
    "logged_out": N_("Logged out"),
}


def _gettext(request: Request, user: UserInfo) -> Any:
    return translations(page_language(request, user)).gettext


def _problem(exc: DomainError, gettext: Any) -> str:
    text = problem_text(exc, gettext)
    field = exc.field or ""
    if field in FIELDS and (exc.code, field) not in PROBLEMS:
        return str(gettext(CHECK_FIELD)).format(field=gettext(FIELDS[field]), message=text)
    return text


def _split(text: str) -> list[str]:
    return [part for part in text.replace(",", " ").split() if part]


def state_now(request: Request, user: UserInfo) -> str | None:
    """The user's agent state as Asterisk shows it now (None: not an agent it knows)."""
    live = get_services(request).live
    for interface in user.interfaces:
        agent = live.agent_for(interface)
        if agent is not None:
            return str(agent.state.value)
    return None


async def interface_warnings(request: Request, user: UserInfo, gettext: Any) -> list[str]:
    warnings = []
    for interface in user.interfaces:
        check = await queue_admin_of(request).check_interface(interface)
        if check["known"] is False:
            warnings.append(str(gettext(UNKNOWN_INTERFACE)).format(interface=interface))
        elif check["known"] is None and check["reason"] != "not_checked":
            warnings.append(str(gettext(UNCHECKED_INTERFACE)).format(interface=interface))
    return warnings


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(request: Request, user: AdminPage) -> HTMLResponse:
    gettext = _gettext(request, user)
    everyone = await get_services(request).crm.users.list()
    penalties = {
        (m.user_id, m.queue): m.penalty for m in await queue_admin_of(request).store.list()
    }
    rows = [
        {
            "user": u,
            "state": state_now(request, u),
            "queues": [(q, penalties.get((u.id, q), 0)) for q in u.queues],
        }
        for u in everyone
    ]
    done = request.query_params.get("done", "")
    return render_admin(
        request,
        "admin/users.html",
        {
            "rows": rows,
            "roles": dict(ROLES),
            "states": STATES,
            "flash": gettext(MESSAGES[done]) if done in MESSAGES else None,
        },
        user=user,
    )


def _form(data: Any) -> dict[str, str]:
    names = ("login", "name", "role", "password", "interfaces", "queues", "language", "version")
    return {k: str(data.get(k, ""))[:2000] for k in names}


@router.get("/admin/users/new", response_class=HTMLResponse)
async def new_user_page(request: Request, user: AdminPage) -> HTMLResponse:
    form = {"role": "agent", "language": "ru"}
    return _user_form(request, user, None, form)


def _user_form(
    request: Request,
    user: UserInfo,
    target: UserInfo | None,
    form: dict[str, str],
    *,
    error: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    admin = queue_admin_of(request)
    return render_admin(
        request,
        "admin/user_form.html",
        {
            "target": target,
            "form": form,
            "error": error,
            "roles": ROLES,
            "known_queues": admin.known_queues(),
            "state": state_now(request, target) if target else None,
            "states": STATES,
            **extra,
        },
        user=user,
        status_code=status_code,
    )


@router.post("/admin/users/new", response_model=None)
async def new_user_submit(request: Request, user: AdminPage) -> Response:
    data = await request.form()
    form = _form(data)
    gettext = _gettext(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return _user_form(request, user, None, form, error=gettext(FORM_EXPIRED), status_code=403)
    password = form["password"] or None
    generated = None
    if password is None:
        from supervisor.people import generate_password

        password = generated = generate_password()
    try:
        created, applied = await people_of(request).create(
            audit_actor(user, request),
            login=form["login"],
            name=form["name"],
            role=form["role"],
            password=password,
            interfaces=_split(form["interfaces"]),
            queues=_split(form["queues"]),
            language=form["language"] if form["language"] in ("ru", "en") else "ru",
        )
    except (CrmError, DomainError) as exc:
        form["password"] = ""
        return _user_form(request, user, None, form, error=_problem(exc, gettext), status_code=422)
    warnings = await interface_warnings(request, created, gettext)
    if applied.warning:
        warnings.append(gettext(PBX_WARNING))
    return _user_form(
        request,
        user,
        created,
        _edit_form(created),
        flash=gettext(MESSAGES["created"]),
        warning=" ".join(warnings) or None,
        new_password=generated,
    )


def _edit_form(target: UserInfo) -> dict[str, str]:
    return {
        "login": target.login,
        "name": target.name,
        "role": str(target.role),
        "interfaces": " ".join(target.interfaces),
        "queues": " ".join(target.queues),
        "language": target.language,
        "version": str(target.version),
    }


async def _target(request: Request, user_id: int) -> UserInfo | None:
    try:
        return await get_services(request).crm.users.get(user_id)
    except NotFound:
        return None


def _not_found(request: Request, user: UserInfo) -> HTMLResponse:
    return render_admin(request, "admin/not_found.html", {}, user=user, status_code=404)


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
async def user_page(request: Request, user_id: PathId, user: AdminPage) -> HTMLResponse:
    target = await _target(request, user_id)
    if target is None:
        return _not_found(request, user)
    gettext = _gettext(request, user)
    done = request.query_params.get("done", "")
    warnings = await interface_warnings(request, target, gettext)
    return _user_form(
        request,
        user,
        target,
        _edit_form(target),
        flash=gettext(MESSAGES[done]) if done in MESSAGES else None,
        warning=" ".join(warnings) or None,
    )


@router.post("/admin/users/{user_id}", response_model=None)
async def user_submit(request: Request, user_id: PathId, user: AdminPage) -> Response:
    data = await request.form()
    form = _form(data)
    gettext = _gettext(request, user)
    target = await _target(request, user_id)
    if target is None:
        return _not_found(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return _user_form(request, user, target, form, error=gettext(FORM_EXPIRED), status_code=403)
    changes: dict[str, Any] = {
        "name": form["name"],
        "role": form["role"],
        "language": form["language"] if form["language"] in ("ru", "en") else target.language,
        "interfaces": _split(form["interfaces"]),
        "queues": _split(form["queues"]),
    }
    try:
        version = int(form["version"] or target.version)
        updated, applied = await people_of(request).update(
            audit_actor(user, request), user_id, version, changes
        )
    except ValueError:
        return _user_form(request, user, target, form, error=gettext(CONFLICT), status_code=409)
    except (CrmError, DomainError) as exc:
        return _user_form(
            request, user, target, form, error=_problem(exc, gettext), status_code=422
        )
    close_sockets_after_change(request, target, updated, False)
    if applied.warning:
        return _user_form(
            request,
            user,
            updated,
            _edit_form(updated),
            flash=gettext(MESSAGES["saved"]),
            warning=gettext(PBX_WARNING),
        )
    return RedirectResponse(f"/admin/users/{user_id}?done=saved", status_code=303)


@router.post("/admin/users/{user_id}/active", response_model=None)
async def user_active_submit(request: Request, user_id: PathId, user: AdminPage) -> Response:
    """Disable (their sessions end, their sockets close at once) or enable a user."""
    data = await request.form()
    gettext = _gettext(request, user)
    target = await _target(request, user_id)
    if target is None:
        return _not_found(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return _user_form(
            request, user, target, _edit_form(target), error=gettext(FORM_EXPIRED), status_code=403
        )
    active = str(data.get("active", "")) == "1"
    try:
        updated, _ = await people_of(request).update(
            audit_actor(user, request), user_id, target.version, {"active": active}
        )
    except (CrmError, DomainError) as exc:
        return _user_form(
            request, user, target, _edit_form(target), error=_problem(exc, gettext), status_code=422
        )
    close_sockets_after_change(request, target, updated, False)
    done = "enabled" if active else "disabled"
    return RedirectResponse(f"/admin/users/{user_id}?done={done}", status_code=303)


@router.post("/admin/users/{user_id}/password", response_model=None)
async def user_password_submit(request: Request, user_id: PathId, user: AdminPage) -> Response:
    """A new password: the one the admin typed, or a generated one shown this once."""
    data = await request.form()
    gettext = _gettext(request, user)
    target = await _target(request, user_id)
    if target is None:
        return _not_found(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return _user_form(
            request, user, target, _edit_form(target), error=gettext(FORM_EXPIRED), status_code=403
        )
    typed = str(data.get("password", ""))[:300] or None
    try:
        updated, password = await people_of(request).reset_password(
            audit_actor(user, request), user_id, typed
        )
    except (CrmError, DomainError) as exc:
        return _user_form(
            request, user, target, _edit_form(target), error=_problem(exc, gettext), status_code=422
        )
    close_sockets_after_change(request, None, updated, True)
    response = _user_form(
        request,
        user,
        updated,
        _edit_form(updated),
        flash=gettext(N_("New password set: the user's sessions ended.")),
        new_password=password if typed is None else None,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
