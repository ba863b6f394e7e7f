"""Sign-in for the web: session cookies, role checks, CSRF, and the session endpoints.

- `POST /api/session` `{"login", "password"}` signs in and sets the session cookie;
  `GET /api/session` says who is signed in; `DELETE /api/session` signs out.
- `GET /login` is a minimal form; `POST /login` sets the same cookie and redirects to
  `next` (a local path) or `/`; `POST /logout` signs out.
- The cookie `trubka_session` holds a random token (the database keeps its hash); it is
  HttpOnly, SameSite=Lax, and Secure when `TRUBKA_COOKIE_SECURE` is true.
- CSRF: API writes must be `Content-Type: application/json` (a cross-site form cannot
  send that without CORS, and SameSite=Lax keeps the cookie off cross-site POSTs);
  HTML forms carry `csrf_token` — before sign-in the value of the `trubka_csrf` cookie
  (double submit), after sign-in only an HMAC of the session token (`csrf_token(request)`;
  a `trubka_csrf` cookie planted by a sibling subdomain is no use then).
- Signing out (or signing in again over an old session) closes that session's `/ws`
  sockets at once (`screenpop.hub.CLOSE_SIGNED_OUT`).
- Failed sign-ins are slowed down per (login, client address) with growing delays and
  limited per address (429 with Retry-After); see `crm.sessions.LoginThrottle`.

`Authorization: Bearer <API token>` is accepted on every `/api/…` route that needs a user
(web/tokens.py: the token acts as its creator, limited to its scopes).

Dependencies for routers: `current_user` (401 `not_authenticated`), `current_actor`,
`require_role("supervisor", "admin")` (403 `forbidden`); for WebSockets,
`current_user_from_websocket(websocket)` reads the same cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from crm.access import Actor
from crm.errors import BadCredentials, Forbidden, NotAuthenticated, NotFound
from crm.models import Role
from crm.schemas import LoginIn, SessionView
from crm.services import CrmServices
from crm.sessions import DEFAULT_MAX_AGE, token_hash
from crm.users import UserInfo
from screenpop.hub import CLOSE_SIGNED_OUT
from web.deps import get_services
from web.tokens import bearer, token_user
from web.ws import SocketUser

SESSION_COOKIE = "trubka_session"
CSRF_COOKIE = "trubka_csrf"
JSON_TYPES = ("application/json",)

router = APIRouter()


def crm_of(request: Request) -> CrmServices:
    return get_services(request).crm


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _user_for_token(crm: CrmServices, token: str | None) -> UserInfo | None:
    info = await crm.sessions.resolve(token)
    if info is None:
        return None
    try:
        user = await crm.users.get(info.user_id)
    except NotFound:
        return None
    return user if user.active else None


async def optional_user(request: Request) -> UserInfo | None:
    return await _user_for_token(crm_of(request), request.cookies.get(SESSION_COOKIE))


async def current_user(request: Request) -> UserInfo:
    token = bearer(request)  # an API token (web.tokens), on `/api/…` only
    if token is not None:
        user: UserInfo | None = await token_user(request, crm_of(request), token)
    else:
        user = await optional_user(request)
    if user is None:
        raise NotAuthenticated("sign in first (POST /api/session)")
    request.state.user = user
    return user


CurrentUser = Annotated[UserInfo, Depends(current_user)]


def actor_of(user: UserInfo) -> Actor:
    return Actor(user_id=user.id, role=user.role, name=user.name)


async def current_actor(user: CurrentUser) -> Actor:
    return actor_of(user)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require_role(*roles: str) -> Callable[[UserInfo], Awaitable[UserInfo]]:
    """A dependency that lets only these roles through (403 `forbidden` otherwise)."""
    allowed = {Role(r) for r in roles}

    async def dependency(user: CurrentUser) -> UserInfo:
        if user.role not in allowed:
            raise Forbidden("this needs the role " + " or ".join(sorted(r.value for r in allowed)))
        return user

    return dependency


async def current_user_from_websocket(websocket: WebSocket) -> UserInfo | None:
    """The signed-in user of a WebSocket handshake (same cookie), or None."""
    services = websocket.app.state.services
    return await _user_for_token(services.crm, websocket.cookies.get(SESSION_COOKIE))


async def require_json(request: Request) -> None:
    """API writes must be JSON (part of the CSRF defence); 415 otherwise."""
    if request.method in ("POST", "PUT", "PATCH"):
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES:
            from fastapi import HTTPException

            raise HTTPException(
                415, "send the request body as JSON (Content-Type: application/json)"
            )


def set_session_cookie(response: Response, token: str, crm: CrmServices) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(DEFAULT_MAX_AGE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=crm.cookie_secure,
        path="/",
    )


def clear_session_cookie(response: Response, crm: CrmServices) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=crm.cookie_secure
    )


def csrf_token(request: Request) -> str:
    """The token a page puts in its forms: bound to the session, or to the pre-session cookie."""
    crm = crm_of(request)
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        return hmac.new(crm.secret, session_token.encode(), hashlib.sha256).hexdigest()
    return request.cookies.get(CSRF_COOKIE) or ""


def csrf_valid(request: Request, submitted: str | None) -> bool:
    """The form's token is the one `csrf_token` gives: bound to the session once one
    exists (the pre-sign-in cookie no longer counts), else the pre-sign-in cookie."""
    if not submitted:
        return False
    expected = csrf_token(request)
    return bool(expected) and hmac.compare_digest(expected, submitted)


def pre_sign_in_csrf_valid(request: Request, submitted: str | None) -> bool:
    """Double submit before sign-in: the form's token equals the `trubka_csrf` cookie
    (only for forms a signed-out visitor sends; once signed in, `csrf_valid`)."""
    pre = request.cookies.get(CSRF_COOKIE)
    return bool(pre and submitted) and hmac.compare_digest(pre or "", submitted or "")


def close_session_sockets(request: Request, token: str | None) -> None:
    """Close the `/ws` sockets of the session this cookie token names (it just ended)."""
    if token:
        get_services(request).hub.close_session(token_hash(token), CLOSE_SIGNED_OUT, "signed out")


async def sign_in(request: Request, login: str, password: str) -> tuple[UserInfo, str]:
    crm = crm_of(request)
    ip = client_ip(request)
    crm.throttle.check(login, ip)
    user = await crm.users.authenticate(login, password)
    if user is None:
        crm.throttle.failed(login, ip)
        raise BadCredentials("wrong login or password")
    crm.throttle.succeeded(login, ip)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await crm.sessions.delete(old)
        close_session_sockets(request, old)
    token = await crm.sessions.create(user.id, ip=ip, user_agent=request.headers.get("user-agent"))
    return user, token


@router.post(
    "/api/session",
    dependencies=[Depends(require_json)],
    tags=["session"],
    response_model=SessionView,
)
async def create_session(body: LoginIn, request: Request) -> JSONResponse:
    """Sign in: sets the session cookie and returns the user."""
    user, token = await sign_in(request, body.login, body.password)
    response = JSONResponse({"user": user.to_json()})
    set_session_cookie(response, token, crm_of(request))
    return response


@router.get("/api/session", tags=["session"], response_model=SessionView)
async def who_am_i(user: CurrentUser) -> dict[str, Any]:
    """The signed-in user (401 when not signed in)."""
    return {"user": user.to_json()}


@router.delete("/api/session", status_code=204, tags=["session"])
async def delete_session(request: Request) -> Response:
    """Sign out (idempotent)."""
    crm = crm_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    await crm.sessions.delete(token)
    close_session_sockets(request, token)
    response = Response(status_code=204)
    clear_session_cookie(response, crm)
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(_safe_next(next_path), safe="/")


async def socket_user(websocket: WebSocket) -> SocketUser | None:
    """The signed-in user of a `/ws` handshake (the session cookie), for the hub."""
    user = await current_user_from_websocket(websocket)
    if user is None or not user.active:
        return None
    token = websocket.cookies.get(SESSION_COOKIE, "")
    return SocketUser(user.id, str(user.role), session=token_hash(token))
