"""The HTML pages: rendering (here) and one module per page family.

The rule: every route that answers HTML lives in this package, in the module named after
the pages it serves (tests/web/test_pages_package.py checks it); the JSON a feature serves
lives in `web.api` (the panel's in `web.panel`, with the strings its page and API share).
One JSON route stays with its page: `/api/recordings/player-strings`, the recording
player's strings, defined and rendered into pages by `calls`.

- `login`: `/login`, `/logout`, `/language` (the JSON session is in `web.auth`);
- `panel`: the agent panel `/`, `/contacts`, a contact's card `/contacts/{id}`;
- `calls`: the call page `/calls/{id}` and its recording's player;
- `supervisor`: `/supervisor` (live view), `/wallboard`, `/reports`;
- `status`: `/status` (its rows are those of `GET /api/status`, `web.api.status`);
- `site`: `/api/docs` (Swagger UI from local files), `/favicon.ico`, the HTML 404/403 pages.

Every page template extends `base.html` and is rendered with :func:`render`, which adds
`_`/`ngettext` (gettext in the page's language), `fmt` (localized formats), `lang`,
`user` (or None), `csrf_token` (for forms) and `nav` (the links this user may follow).
:func:`page_user` and :func:`page_role` are the pages' sign-in dependencies; a page that
needs one raises :class:`LoginRequired`, answered by :func:`login_required`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.users import UserInfo
from web.auth import csrf_token, login_url, optional_user
from web.i18n import LANG_COOKIE, N_, formatter, negotiate, translations
from web.templating import templates

NAV = (
    ("/", N_("Panel"), ("agent", "supervisor", "admin")),
    ("/my", N_("My work"), ("agent", "supervisor", "admin")),
    ("/contacts", N_("Contacts"), ("agent", "supervisor", "admin")),
    ("/supervisor", N_("Live view"), ("supervisor", "admin")),
    ("/wallboard", N_("Wallboard"), ("supervisor", "admin")),
    ("/reports", N_("Reports"), ("supervisor", "admin")),
    ("/admin", N_("Administration"), ("admin",)),
    ("/admin/queues", N_("Queues"), ("supervisor",)),
    ("/admin/routing", N_("Routing rules"), ("supervisor",)),
)


def page_language(request: Request, user: UserInfo | None) -> str:
    return negotiate(
        user.language if user else None,
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    user: UserInfo | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    services = request.app.state.services
    settings = services.settings
    lang = page_language(request, user)
    catalog = translations(lang)
    role = str(user.role) if user else None
    page: dict[str, Any] = {
        "_": catalog.gettext,
        "ngettext": catalog.ngettext,
        "lang": lang,
        "fmt": formatter(lang, settings.default_region, getattr(settings, "timezone", "UTC")),
        "user": user,
        "csrf_token": csrf_token(request),
        "nav": [(href, label) for href, label, roles in NAV if role in roles],
        "path": request.url.path,
    }
    page.update(context or {})
    return templates.TemplateResponse(request, template, page, status_code=status_code)


class LoginRequired(Exception):
    """A page needs a signed-in user (with one of `roles`, when given)."""

    def __init__(self, next_path: str, *, forbidden: bool = False) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.forbidden = forbidden


async def page_user(request: Request) -> UserInfo:
    """Dependency for pages: the signed-in user, or a redirect to the login form."""
    user = await optional_user(request)
    if user is None:
        raise LoginRequired(request.url.path)
    return user


def page_role(*roles: str) -> Callable[[Request], Awaitable[UserInfo]]:
    """Dependency for pages limited to some roles (others get a 403 page)."""

    async def dependency(request: Request) -> UserInfo:
        user = await page_user(request)
        if str(user.role) not in roles:
            raise LoginRequired(request.url.path, forbidden=True)
        return user

    return dependency


async def login_required(request: Request, exc: Exception) -> Response:
    """The answer to :class:`LoginRequired` (installed by `web.errors`): the login form,
    or the 403 page for a signed-in user without the role."""
    assert isinstance(exc, LoginRequired)
    if exc.forbidden:
        user = await optional_user(request)
        return render(request, "forbidden.html", user=user, status_code=403)
    return RedirectResponse(login_url(exc.next_path), status_code=303)
