"""What every `/admin` page shares: the role dependencies, the admin section's own
navigation (`ADMIN_NAV`), the table of admin pages and who may open them
(`ADMIN_PAGES`, read by the role test), and :func:`render_admin`.

An admin page template extends `admin/base.html` and is rendered with
:func:`render_admin`, which adds `admin_nav` (the links, marked current by path prefix)
and `can_edit` (whether the user may change things: admins; supervisors read).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from crm.users import UserInfo
from kernel.errors import DomainError
from web.i18n import N_
from web.pages import page_role, render

AdminPage = Annotated[UserInfo, Depends(page_role("admin"))]
ManagerPage = Annotated[UserInfo, Depends(page_role("supervisor", "admin"))]

# The admin section's links, in order. Each helper adding a page adds its row here.
ADMIN_NAV = (
    ("/admin", N_("Dashboard")),
    ("/admin/users", N_("Users")),
    ("/admin/queues", N_("Queues")),
    ("/admin/routing", N_("Routing")),
    ("/admin/pause-reasons", N_("Pause reasons")),
    ("/admin/wrapup-codes", N_("Wrap-up codes")),
    ("/admin/settings", N_("Settings")),
    ("/admin/system", N_("System")),
    ("/admin/audit", N_("Audit")),
    ("/admin/triggers", N_("Triggers")),
    ("/admin/webhooks", N_("Webhooks")),
    ("/admin/tokens", N_("API tokens")),
    ("/admin/mailboxes", N_("Mailboxes")),
    ("/admin/mail-templates", N_("Letter templates")),
    ("/admin/pipelines", N_("Stage probabilities")),
)
# Which links a supervisor sees (the pages that have a read-only view for them).
SUPERVISOR_NAV = frozenset({"/admin/queues", "/admin/routing", "/admin/settings"})

# Every admin page (GET) and the roles that may open it: the role test tries each one as
# agent, supervisor, admin and anonymous. Pages added later join this table.
ADMIN_PAGES: dict[str, tuple[str, ...]] = {
    "/admin": ("admin",),
    "/admin/users": ("admin",),
    "/admin/users/new": ("admin",),
    "/admin/users/{user_id}": ("admin",),
    "/admin/queues": ("supervisor", "admin"),
    "/admin/audit": ("admin",),
    "/admin/routing": ("supervisor", "admin"),
    "/admin/settings": ("supervisor", "admin"),
    "/admin/pause-reasons": ("admin",),
    "/admin/wrapup-codes": ("admin",),
    "/admin/system": ("admin",),
    "/admin/triggers": ("admin",),
    "/admin/webhooks": ("admin",),
    "/admin/tokens": ("admin",),
    "/admin/mailboxes": ("admin",),
    "/admin/mail-templates": ("admin",),
    "/admin/pipelines": ("admin",),
}


# What the admin forms say when the service refuses a field (by error code and field);
# other refusals show the service's message, translated when the catalogs have it.
PROBLEMS = {
    ("already_exists", "login"): N_("This login is already taken."),
    ("already_exists", "interfaces"): N_("This phone interface already belongs to another user."),
    ("invalid", "login"): N_("The login must be 1 to 64 characters, without spaces."),
    ("invalid", "name"): N_("Enter a name."),
    ("invalid", "role"): N_("Choose a role."),
    ("invalid", "password"): N_("The password must be 8 to 256 characters long."),
    ("invalid", "interfaces"): N_(
        "Not a dialable interface: write it as Asterisk dials it, e.g. PJSIP/101."
    ),
    ("invalid", "queues"): N_("A queue name is at most 80 characters, without spaces."),
    ("invalid", "queue"): N_("Asterisk has no such queue, or the name is not valid."),
    ("invalid", "penalty"): N_("The penalty must be a whole number from 0 to 1000."),
    ("invalid", "user_id"): N_("The user has no phone interface: give them one first."),
    ("already_exists", "user_id"): N_("The user is already in this queue."),
    ("not_found", ""): N_("Not found: it may have been removed meanwhile."),
    ("conflict", ""): N_("Someone else changed this meanwhile: check the form and save again."),
    ("forbidden", ""): N_("Your role does not allow this change."),
}


def problem_text(exc: DomainError, gettext: Callable[[str], str]) -> str:
    """A refusal as the admin reads it, in their language."""
    message = PROBLEMS.get((exc.code, exc.field or "")) or PROBLEMS.get((exc.code, ""))
    return str(gettext(message)) if message else str(gettext(exc.message))


def render_admin(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    user: UserInfo,
    status_code: int = 200,
) -> HTMLResponse:
    role = str(user.role)
    path = request.url.path
    links = [
        (href, label, href == path or (href != "/admin" and path.startswith(href + "/")))
        for href, label in ADMIN_NAV
        if role == "admin" or href in SUPERVISOR_NAV
    ]
    page = {"admin_nav": links, "can_edit": role == "admin", **context}
    return render(request, template, page, user=user, status_code=status_code)
