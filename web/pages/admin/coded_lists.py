"""What the admin pages of coded lists share (pause reasons, wrap-up codes): a form adds,
changes or removes one entry, after the CSRF check; a refusal is shown on the page in the
admin's language; a change goes back to the page saying what was done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.users import UserInfo
from kernel.errors import DomainError
from supervisor.audit import Actor
from web.api.routing_rules import actor
from web.auth import csrf_valid
from web.i18n import N_, translations
from web.pages import page_language

EXPIRED = N_("The form expired; reload the page and try again.")
NOT_SAVED = N_("Not saved: %(problem)s")


class Page(Protocol):
    def __call__(
        self, request: Request, user: UserInfo, *, message: str | None = ..., status_code: int = ...
    ) -> Awaitable[HTMLResponse]: ...


@dataclass(frozen=True, slots=True)
class CodedList:
    """One list's page, and its service's add, update and delete; `delete` answers the
    `done` key the page shows ("1": saved)."""

    path: str
    page: Page
    add: Callable[[dict[str, Any], Actor], Awaitable[object]]
    update: Callable[[str, dict[str, Any], Actor], Awaitable[object]]
    delete: Callable[[str, Actor], Awaitable[str]]


async def change(
    entries: CodedList,
    request: Request,
    user: UserInfo,
    csrf_token: str,
    code: str | None,
    data: dict[str, Any] | None,
) -> Response:
    """Add (`code` None), remove (`data` None) or change one entry."""
    gettext = translations(page_language(request, user)).gettext
    if not csrf_valid(request, csrf_token):
        return await entries.page(request, user, message=gettext(EXPIRED), status_code=403)
    who = actor(user, request)
    done = "1"
    try:
        if code is None:
            await entries.add(data or {}, who)
        elif data is None:
            done = await entries.delete(code, who)
        else:
            await entries.update(code, data, who)
    except DomainError as exc:
        message = gettext(NOT_SAVED) % {"problem": gettext(exc.message)}
        return await entries.page(request, user, message=message, status_code=422)
    return RedirectResponse(f"{entries.path}?done={done}", status_code=303)
