"""`/admin/webhooks` and `/admin/tokens` (admins): the integrations of docs/integrations.md
in the browser.

- `/admin/webhooks`: the webhooks (URL, events, state, pending deliveries; a webhook the
  delivery worker disabled after failing for a day is shown as an alert), a form to add
  one (URL, events, secret), and per webhook: enable or disable, send a test event,
  delete, and its delivery log `/admin/webhooks/{id}` (each attempt with time, status or
  error, duration).
- `/admin/tokens`: the API tokens (scopes, created, last use, revoked), a form to create
  one — the token is shown on the answer page once and never again — and revoke.

Forms post with the CSRF token (`web.auth.csrf_valid`) and work without JavaScript; the
services are `crm.hooks.webhooks`, `crm.hooks.tokens` and `crm.hooks.ping`, the JSON API
`web.api.hooks`. Refusals are shown on the page in the admin's language.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from crm.hooks.outbox import EVENT_TYPES
from crm.hooks.ping import send_test_event
from crm.hooks.tokens import SCOPES
from crm.users import UserInfo
from kernel.errors import DomainError
from web.auth import crm_of
from web.i18n import N_
from web.pages.admin.layout import AdminPage, render_admin
from web.pages.admin.posting import page_gettext, posted
from web.params import PathId

router = APIRouter(include_in_schema=False)

HOOKS = "/admin/webhooks"
TOKENS = "/admin/tokens"
DONE = {
    "created": N_("Saved."),
    "enabled": N_("The webhook is enabled; what was pending is sent now."),
    "disabled": N_("The webhook is disabled; new events wait until it is enabled."),
    "deleted": N_("Removed."),
    "test": N_("A test event is queued; its delivery shows in the log below."),
    "revoked": N_("The token is revoked: requests with it are refused from now on."),
}
EVENT_LABELS = {
    "call.missed": N_("Missed call"),
    "call.answered": N_("Answered call"),
    "call.ended": N_("Call ended"),
    "contact.created": N_("Contact created"),
    "contact.updated": N_("Contact changed"),
    "deal.created": N_("Deal created"),
    "deal.stage_changed": N_("Deal moved to another stage"),
    "webhook.test": N_("Test event"),
}
SCOPE_LABELS = {
    "contacts:read": N_("Read contacts and companies"),
    "contacts:write": N_("Change contacts and companies"),
    "calls:read": N_("Read calls"),
    "tasks": N_("Tasks"),
    "deals": N_("Deals and the sales forecast"),
    "webhooks": N_("Webhooks"),
    "leads": N_("Send leads (POST /api/inbound/leads)"),
}
STATUS_LABELS = {
    "pending": N_("pending"),
    "delivered": N_("delivered"),
    "failed": N_("given up"),
}
DISABLED_WARNING = N_(
    "Webhooks disabled after a day of failed deliveries: %(count)d. Their events wait; "
    "see Administration → Webhooks."
)
DISABLED_REASONS = {
    "failing for a day": N_("every delivery failed for a day"),
    "disabled by an admin": N_("disabled by an admin"),
}


async def disabled_webhooks_warning(request: Request, user: UserInfo) -> str | None:
    """The admin dashboard's alert when the worker disabled webhooks (None: none)."""
    hooks = await crm_of(request).webhooks.list()
    count = sum(1 for h in hooks if not h["enabled"] and h["failing_since"])
    return str(_gettext(request, user)(DISABLED_WARNING) % {"count": count}) if count else None


def _gettext(request: Request, user: UserInfo) -> Any:
    return page_gettext(request, user)


# --- webhooks ------------------------------------------------------------------------


async def _hooks_page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    hooks = await crm_of(request).webhooks.list()
    context = {
        "hooks": hooks,
        "alerts": [h for h in hooks if not h["enabled"] and h["failing_since"]],
        "event_types": [(e, EVENT_LABELS[e]) for e in EVENT_TYPES],
        "event_labels": EVENT_LABELS,
        "reasons": DISABLED_REASONS,
        "done": DONE.get(request.query_params.get("done") or ""),
        "message": message,
        "form": form or {"url": "", "events": []},
    }
    return render_admin(request, "admin/webhooks.html", context, user=user, status_code=status_code)


@router.get(HOOKS, response_class=HTMLResponse)
async def webhooks_page(request: Request, user: AdminPage) -> HTMLResponse:
    return await _hooks_page(request, user)


@router.post(HOOKS, response_class=HTMLResponse)
async def webhook_create(
    request: Request,
    user: AdminPage,
    url: Annotated[str, Form(max_length=2000)] = "",
    events: Annotated[list[str] | None, Form(max_length=20)] = None,
    secret: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"url": url, "events": events or []}

    async def create() -> str:
        await crm_of(request).webhooks.create(url, events or [], secret, user.id)
        return f"{HOOKS}?done=created"

    async def again(message: str, status_code: int) -> Response:
        return await _hooks_page(request, user, message=message, form=form, status_code=status_code)

    return await posted(request, user, csrf_token, create, again)


@router.post(HOOKS + "/{hook_id}/{action}", response_class=HTMLResponse)
async def webhook_action(
    hook_id: PathId,
    action: str,
    request: Request,
    user: AdminPage,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """`enable`, `disable`, `test` (a test event) or `delete`."""
    crm = crm_of(request)

    async def act() -> str | Response:
        if action in ("enable", "disable"):
            await crm.webhooks.set_enabled(hook_id, action == "enable")
            return f"{HOOKS}?done={action}d"
        if action == "test":
            await send_test_event(crm.db, hook_id, user_id=user.id)
            return f"{HOOKS}/{hook_id}?done=test"
        if action == "delete":
            await crm.webhooks.delete(hook_id)
            return f"{HOOKS}?done=deleted"
        return await _hooks_page(request, user, status_code=404)

    async def again(message: str, status_code: int) -> Response:
        return await _hooks_page(request, user, message=message, status_code=status_code)

    return await posted(request, user, csrf_token, act, again)


@router.get(HOOKS + "/{hook_id}", response_class=HTMLResponse)
async def webhook_log_page(
    hook_id: PathId, request: Request, user: AdminPage, status: str | None = None
) -> HTMLResponse:
    crm = crm_of(request)
    wanted = status if status in STATUS_LABELS else None
    try:
        hook = await crm.webhooks.get(hook_id)
        deliveries = await crm.webhooks.deliveries(hook_id, limit=200, status=wanted)
    except DomainError:
        return render_admin(
            request, "admin/webhook_log.html", {"hook": None}, user=user, status_code=404
        )
    context = {
        "hook": hook,
        "deliveries": deliveries,
        "status": wanted,
        "statuses": STATUS_LABELS,
        "event_labels": EVENT_LABELS,
        "reasons": DISABLED_REASONS,
        "done": DONE.get(request.query_params.get("done") or ""),
    }
    return render_admin(request, "admin/webhook_log.html", context, user=user)


# --- API tokens ----------------------------------------------------------------------


async def _tokens_page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    new_token: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tokens = await crm_of(request).tokens.list()
    names = {u.id: u.name for u in await crm_of(request).users.list()}
    context = {
        "tokens": tokens,
        "creators": names,
        "scopes": [(s, SCOPE_LABELS.get(s, s)) for s in SCOPES],
        "done": DONE.get(request.query_params.get("done") or ""),
        "message": message,
        "new_token": new_token,
        "form": form or {"name": "", "scopes": []},
    }
    response = render_admin(
        request, "admin/tokens.html", context, user=user, status_code=status_code
    )
    if new_token is not None:  # the token is on this page only: keep it out of caches
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get(TOKENS, response_class=HTMLResponse)
async def tokens_page(request: Request, user: AdminPage) -> HTMLResponse:
    return await _tokens_page(request, user)


@router.post(TOKENS, response_class=HTMLResponse)
async def token_create(
    request: Request,
    user: AdminPage,
    name: Annotated[str, Form(max_length=120)] = "",
    scopes: Annotated[list[str] | None, Form(max_length=20)] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"name": name, "scopes": scopes or []}

    async def create() -> Response:
        view, token = await crm_of(request).tokens.create(name, scopes or [], user.id)
        return await _tokens_page(request, user, new_token={**view, "token": token})

    async def again(message: str, status_code: int) -> Response:
        return await _tokens_page(
            request, user, message=message, form=form, status_code=status_code
        )

    return await posted(request, user, csrf_token, create, again)


@router.post(TOKENS + "/{token_id}/revoke", response_class=HTMLResponse)
async def token_revoke(
    token_id: PathId,
    request: Request,
    user: AdminPage,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    async def revoke() -> str:
        await crm_of(request).tokens.revoke(token_id)
        return f"{TOKENS}?done=revoked"

    async def again(message: str, status_code: int) -> Response:
        return await _tokens_page(request, user, message=message, status_code=status_code)

    return await posted(request, user, csrf_token, revoke, again)
