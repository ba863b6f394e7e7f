"""`/admin/queues`: the queues Asterisk has, their strategy, service-level threshold and
members with penalties; admins add a user with a penalty, change it, remove them
(`QueueAdd`/`QueuePenalty`/`QueueRemove` as dynamic members, kept by Trubka and
re-applied after Asterisk restarts). Supervisors read the page.

`?user=ID` preselects that user in the "add" forms (the live view's "add to queue").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from crm.errors import CrmError
from crm.queue_members import QueueMemberStore
from crm.users import UserInfo
from kernel.errors import DomainError
from supervisor.queue_admin import Applied
from web.api.users import audit_actor, queue_admin_of
from web.auth import csrf_valid
from web.i18n import N_, translations
from web.pages import page_language
from web.pages.admin.layout import AdminPage, ManagerPage, problem_text, render_admin
from web.params import PathId

router = APIRouter(include_in_schema=False)

QueueName = Annotated[str, Path(min_length=1, max_length=80)]

DONE = {
    "added": N_("Added to the queue."),
    "penalty": N_("Penalty changed."),
    "removed": N_("Removed from the queue."),
}
PBX_WARNING = N_("Saved, but Asterisk was not told: it is applied when Trubka connects to it.")
FORM_EXPIRED = N_("The form expired: reload the page and try again.")
BAD_MEMBER_FORM = N_("Choose a user and a penalty (a whole number).")
PERSISTENT = {
    True: N_(
        "Asterisk keeps dynamic members over a restart (persistentmembers = yes); Trubka "
        "still checks them after every reconnect."
    ),
    False: N_(
        "Asterisk forgets dynamic members when it restarts (persistentmembers is off): "
        "Trubka adds them again after every reconnect."
    ),
    None: N_(
        "Whether Asterisk keeps dynamic members over a restart is not known (it could not "
        "be asked): Trubka adds missing members again after every reconnect."
    ),
}


def members_store(request: Request) -> QueueMemberStore:
    return queue_admin_of(request).store


def _gettext(request: Request, user: UserInfo) -> Any:
    return translations(page_language(request, user)).gettext


async def _page(
    request: Request,
    user: UserInfo,
    *,
    flash: str | None = None,
    warning: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    admin = queue_admin_of(request)
    queues = await admin.queues()
    users = [u for u in await admin.users.list(include_inactive=False) if u.interfaces]
    try:
        preselected = int(request.query_params.get("user", "") or 0)
    except ValueError:
        preselected = 0
    gettext = _gettext(request, user)
    return render_admin(
        request,
        "admin/queues.html",
        {
            "queues": queues,
            "users": users,
            "preselected": preselected,
            "persistent": gettext(PERSISTENT[admin.persistent_members]),
            "flash": flash,
            "warning": warning,
            "error": error,
        },
        user=user,
        status_code=status_code,
    )


@router.get("/admin/queues", response_class=HTMLResponse)
async def queues_page(request: Request, user: ManagerPage) -> HTMLResponse:
    gettext = _gettext(request, user)
    done = request.query_params.get("done", "")
    warned = request.query_params.get("warn") == "1"
    return await _page(
        request,
        user,
        flash=gettext(DONE[done]) if done in DONE else None,
        warning=gettext(PBX_WARNING) if warned else None,
    )


def _after(done: str, applied: Applied, user_id: int) -> RedirectResponse:
    warn = "&warn=1" if applied.warning else ""
    return RedirectResponse(f"/admin/queues?done={done}{warn}#user-{user_id}", status_code=303)


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


async def _refused(request: Request, user: UserInfo, exc: DomainError) -> HTMLResponse:
    gettext = _gettext(request, user)
    return await _page(request, user, error=problem_text(exc, gettext), status_code=422)


# A member form's change: the service call to await and the member's user id, or None
# when the form lacks a user or a whole-number penalty.
Change = Callable[[FormData], tuple[Awaitable[Applied], int] | None]


async def _submit(request: Request, user: UserInfo, done: str, change: Change) -> Response:
    """The member forms' one path: the CSRF check, the form's values, the change, then
    back to the page saying what was done (or why not)."""
    data = await request.form()
    gettext = _gettext(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return await _page(request, user, error=gettext(FORM_EXPIRED), status_code=403)
    planned = change(data)
    if planned is None:
        return await _page(request, user, error=gettext(BAD_MEMBER_FORM), status_code=422)
    pending, member = planned
    try:
        applied = await pending
    except (CrmError, DomainError) as exc:
        return await _refused(request, user, exc)
    return _after(done, applied, member)


@router.post("/admin/queues/{name}/members", response_model=None)
async def add_member_submit(request: Request, name: QueueName, user: AdminPage) -> Response:
    def add(data: FormData) -> tuple[Awaitable[Applied], int] | None:
        member, penalty = _int(data.get("user_id")), _int(data.get("penalty"), 0)
        if member is None or penalty is None:
            return None
        actor = audit_actor(user, request)
        return queue_admin_of(request).add(actor, name, member, penalty), member

    return await _submit(request, user, "added", add)


@router.post("/admin/queues/{name}/members/{user_id}/penalty", response_model=None)
async def penalty_submit(
    request: Request, name: QueueName, user_id: PathId, user: AdminPage
) -> Response:
    def set_penalty(data: FormData) -> tuple[Awaitable[Applied], int] | None:
        penalty = _int(data.get("penalty"))
        if penalty is None:
            return None
        actor = audit_actor(user, request)
        return queue_admin_of(request).set_penalty(actor, name, user_id, penalty), user_id

    return await _submit(request, user, "penalty", set_penalty)


@router.post("/admin/queues/{name}/members/{user_id}/remove", response_model=None)
async def remove_submit(
    request: Request, name: QueueName, user_id: PathId, user: AdminPage
) -> Response:
    def remove(_data: FormData) -> tuple[Awaitable[Applied], int]:
        return queue_admin_of(request).remove(audit_actor(user, request), name, user_id), user_id

    return await _submit(request, user, "removed", remove)
