"""`Authorization: Bearer <API token>` on `/api/…`: which scope each path needs.

A token (crm.hooks.tokens) acts as the admin who created it, limited to its scopes:

    path                                         GET               other methods
    /api/contacts, /api/companies, /api/notes,   contacts:read     contacts:write
      /api/search, /api/card (and /api/contacts/{id}/letters)
    /api/letters (attachments)                   contacts:read     (none)
    /api/mail-templates                          contacts:read     contacts:write
    /api/calls                                   calls:read        (none)
    /api/tasks, /api/my-work                     tasks             tasks
    /api/deals, /api/pipelines                   deals             deals
    /api/webhooks                                webhooks          webhooks
    /api/session                                 (any token)       (none)

Any other `/api/…` path (tokens, users, reports, the panel, the supervisor's actions)
is refused to a token: 403 with a message in the creator's language.
"""

from __future__ import annotations

from fastapi import Request

from crm.errors import Forbidden, NotAuthenticated, NotFound
from crm.hooks.tokens import TokenUse
from crm.services import CrmServices
from crm.users import UserInfo
from web.error_text import request_language as explicit_language
from web.i18n import LANG_COOKIE, N_, negotiate, translations

READ_WRITE = {
    "/api/contacts": ("contacts:read", "contacts:write"),
    "/api/companies": ("contacts:read", "contacts:write"),
    "/api/notes": ("contacts:read", "contacts:write"),
    "/api/search": ("contacts:read", None),
    "/api/card": ("contacts:read", None),
    "/api/calls": ("calls:read", None),
    "/api/tasks": ("tasks", "tasks"),
    "/api/my-work": ("tasks", "tasks"),
    "/api/deals": ("deals", "deals"),
    "/api/pipelines": ("deals", "deals"),
    "/api/webhooks": ("webhooks", "webhooks"),
    "/api/letters": ("contacts:read", None),
    "/api/mail-templates": ("contacts:read", "contacts:write"),
    "/api/inbound/leads": ("leads", "leads"),
    "/api/reports/forecast": ("deals", None),
}
ANY_TOKEN = "*"
NOT_FOR_TOKENS = N_("an API token cannot use this endpoint")
MISSING_SCOPE = N_("this API token lacks the scope {scope}")
BAD_TOKEN = N_("the API token is unknown or revoked")


def scope_for(method: str, path: str) -> str | None:
    """The scope a token needs for this request; `ANY_TOKEN`; None: no token may."""
    if path == "/api/session":
        return ANY_TOKEN if method == "GET" else None
    for prefix, (read, write) in READ_WRITE.items():
        if path == prefix or path.startswith(prefix + "/"):
            return read if method in ("GET", "HEAD") else write
    return None


def bearer(request: Request) -> str | None:
    """The bearer token of an `/api/…` request, if it carries one."""
    if not request.url.path.startswith("/api/"):
        return None
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


async def token_user(request: Request, crm: CrmServices, token: str) -> UserInfo:
    """The user a bearer token acts as, once its scope allows this request; else
    401 (unknown, revoked, creator deactivated) or 403 (scope missing)."""
    use: TokenUse | None = await crm.tokens.resolve(token)
    user: UserInfo | None = None
    if use is not None:
        try:
            user = await crm.users.get(use.user_id)
        except NotFound:
            user = None
    if use is None or user is None or not user.active:
        raise NotAuthenticated(_(request_language(request), BAD_TOKEN))
    needed = scope_for(request.method, request.url.path)
    # the language the request names (Accept-Language, `lang` cookie), else the creator's
    lang = explicit_language(request) or user.language
    if needed is None:
        raise Forbidden(_(lang, NOT_FOR_TOKENS))
    if needed != ANY_TOKEN and needed not in use.scopes:
        raise Forbidden(_(lang, MISSING_SCOPE).format(scope=needed))
    request.state.api_token = use
    return user


def request_language(request: Request) -> str:
    return negotiate(None, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
