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
  (double submit), after sign-in an HMAC of the session token (`csrf_token(request)`).
- Failed sign-ins are limited per login and per client address (429 with Retry-After).

Dependencies for routers: `current_user` (401 `not_authenticated`), `current_actor`,
`require_role("supervisor", "admin")` (403 `forbidden`); for WebSockets,
`current_user_from_websocket(websocket)` reads the same cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from crm.access import Actor
from crm.errors import BadCredentials, Forbidden, NotAuthenticated, NotFound, RateLimited
from crm.models import Role
from crm.schemas import LoginIn
from crm.services import CrmServices
from crm.sessions import DEFAULT_MAX_AGE
from crm.users import UserInfo
from web.deps import get_services


def N_(message: str) -> str:
    """Mark a message for translation; the login page translates it when shown."""
    return message


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
    if not submitted:
        return False
    crm = crm_of(request)
    candidates = []
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token:
        candidates.append(hmac.new(crm.secret, session_token.encode(), hashlib.sha256).hexdigest())
    pre = request.cookies.get(CSRF_COOKIE)
    if pre:
        candidates.append(pre)
    return any(hmac.compare_digest(c, submitted) for c in candidates)


async def sign_in(request: Request, login: str, password: str) -> tuple[UserInfo, str]:
    crm = crm_of(request)
    ip = client_ip(request)
    crm.throttle.check(login, ip)
    user = await crm.users.authenticate(login, password)
    if user is None:
        crm.throttle.failed(login, ip)
        raise BadCredentials("wrong login or password")
    crm.throttle.succeeded(login)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await crm.sessions.delete(old)
    token = await crm.sessions.create(user.id, ip=ip, user_agent=request.headers.get("user-agent"))
    return user, token


@router.post("/api/session", dependencies=[Depends(require_json)], tags=["session"])
async def create_session(body: LoginIn, request: Request) -> JSONResponse:
    """Sign in: sets the session cookie and returns the user."""
    user, token = await sign_in(request, body.login, body.password)
    response = JSONResponse({"user": user.to_json()})
    set_session_cookie(response, token, crm_of(request))
    return response


@router.get("/api/session", tags=["session"])
async def who_am_i(user: CurrentUser) -> dict[str, Any]:
    """The signed-in user (401 when not signed in)."""
    return {"user": user.to_json()}


@router.delete("/api/session", status_code=204, tags=["session"])
async def delete_session(request: Request) -> Response:
    """Sign out (idempotent)."""
    crm = crm_of(request)
    await crm.sessions.delete(request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    clear_session_cookie(response, crm)
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    error_args: dict[str, object] | None = None,
    status: int = 200,
    login: str = "",
    next_url: str = "/",
) -> HTMLResponse:
    from web.pages import render

    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "error_args": error_args or {},
            "csrf_token": token,
            "login": login,
            "next": next_url,
        },
        status_code=status,
    )
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=crm_of(request).cookie_secure,
        path="/",
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login", include_in_schema=False)
async def login_submit(
    request: Request,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    next_url = _safe_next(next)
    pre = request.cookies.get(CSRF_COOKIE)
    if not pre or not hmac.compare_digest(pre, csrf_token):
        return _login_page(
            request,
            error=N_("The form expired; please sign in again."),
            status=403,
            login=login,
            next_url=next_url,
        )
    if not login.strip() or not password:
        return _login_page(
            request,
            error=N_("Enter your login and password."),
            status=422,
            login=login,
            next_url=next_url,
        )
    try:
        _, token = await sign_in(request, login, password)
    except RateLimited as exc:
        minutes = max(1, round(exc.retry_after / 60))
        return _login_page(
            request,
            error=N_("Too many failed attempts. Try again in {minutes} min."),
            error_args={"minutes": minutes},
            status=429,
            login=login,
            next_url=next_url,
        )
    except BadCredentials:
        return _login_page(
            request,
            error=N_("Wrong login or password."),
            status=401,
            login=login,
            next_url=next_url,
        )
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(response, token, crm_of(request))
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
async def logout_submit(
    request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if not csrf_valid(request, csrf_token):
        return HTMLResponse("The form expired; reload the page and try again.", status_code=403)
    crm = crm_of(request)
    await crm.sessions.delete(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, crm)
    return response


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(_safe_next(next_path), safe="/")


@router.post("/language", include_in_schema=False)
async def choose_language(
    request: Request,
    lang: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Switch the page language: a cookie, and the signed-in user's preference."""
    from web.i18n import LANG_COOKIE, LANGUAGES

    if lang not in LANGUAGES:
        return HTMLResponse("Unknown language.", status_code=422)
    if not csrf_valid(request, csrf_token):
        return HTMLResponse("The form expired; reload the page and try again.", status_code=403)
    user = await optional_user(request)
    if user is not None and user.language != lang:
        await crm_of(request).users.update(
            user.id, user.version, {"language": lang}, actor=actor_of(user)
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
