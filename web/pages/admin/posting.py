"""What every admin form post shares: the CSRF check, the change, a refusal shown again
on the page in the admin's language (403 for an expired form, 422 for a refused value),
else the page the change leads to (a redirect, or a page of its own)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from crm.users import UserInfo
from kernel.errors import DomainError
from web.auth import csrf_valid
from web.i18n import translations
from web.pages import page_language
from web.pages.admin.coded_lists import EXPIRED, NOT_SAVED

Gettext = Callable[[str], str]
# the page again, with a message and a status code
Again = Callable[[str, int], Awaitable[Response]]
# the change: where to go next (redirected with 303), or a page of its own
Change = Callable[[], Awaitable[str | Response]]
Explain = Callable[[DomainError, Gettext], str]


def page_gettext(request: Request, user: UserInfo) -> Gettext:
    return translations(page_language(request, user)).gettext


def refusal(exc: DomainError, gettext: Gettext, labels: Mapping[str, str] | None = None) -> str:
    """ "Not saved: <field>: <problem>", the field named by its label when there is one."""
    problem = gettext(exc.message)
    if exc.field:
        name = gettext(labels[exc.field]) if labels and exc.field in labels else exc.field
        problem = f"{name}: {problem}"
    return gettext(NOT_SAVED) % {"problem": problem}


async def posted(
    request: Request,
    user: UserInfo,
    csrf_token: str,
    change: Change,
    again: Again,
    explain: Explain = refusal,
) -> Response:
    gettext = page_gettext(request, user)
    if not csrf_valid(request, csrf_token):
        return await again(gettext(EXPIRED), 403)
    try:
        after = await change()
    except DomainError as exc:
        return await again(explain(exc, gettext), 422)
    if isinstance(after, str):
        return RedirectResponse(after, status_code=303)
    return after
