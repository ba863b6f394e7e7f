"""The sign-in, sign-out and language pages (HTML forms; the JSON session is in `web.auth`)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.errors import BadCredentials, RateLimited
from web.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    _safe_next,
    actor_of,
    clear_session_cookie,
    close_session_sockets,
    crm_of,
    csrf_valid,
    optional_user,
    pre_sign_in_csrf_valid,
    set_session_cookie,
    sign_in,
)
from web.auth import csrf_token as session_csrf_token
from web.i18n import LANG_COOKIE, LANGUAGES, N_, translations
from web.pages import page_language, render
from web.pages.site import form_expired

router = APIRouter()
UNKNOWN_LANGUAGE = N_("Unknown language.")


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    error_args: dict[str, object] | None = None,
    status: int = 200,
    login: str = "",
    next_url: str = "/",
) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "error_args": error_args or {},
            # the sign-in form's double submit; the header's forms (language) carry the
            # session's token when a session cookie is present
            "login_csrf": token,
            "csrf_token": session_csrf_token(request)
            if request.cookies.get(SESSION_COOKIE)
            else token,
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
        signed_in, token = await sign_in(request, login, password)
    except RateLimited as exc:
        if exc.retry_after < 60:
            error = N_("Too many failed attempts. Try again in {seconds} s.")
            args: dict[str, object] = {"seconds": exc.retry_after}
        else:
            error = N_("Too many failed attempts. Try again in {minutes} min.")
            args = {"minutes": max(1, round(exc.retry_after / 60))}
        page = _login_page(
            request, error=error, error_args=args, status=429, login=login, next_url=next_url
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except BadCredentials:
        return _login_page(
            request,
            error=N_("Wrong login or password."),
            status=401,
            login=login,
            next_url=next_url,
        )
    if next_url == "/" and str(signed_in.role) == "admin":
        next_url = "/admin"  # an admin lands on the admin dashboard, not the agent panel
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(response, token, crm_of(request))
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
async def logout_submit(
    request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    if not csrf_valid(request, csrf_token):
        return await form_expired(request)
    crm = crm_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    await crm.sessions.delete(token)
    close_session_sockets(request, token)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, crm)
    return response


@router.post("/language", include_in_schema=False)
async def choose_language(
    request: Request,
    lang: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Switch the page language: a cookie, and the signed-in user's preference."""
    if lang not in LANGUAGES:
        return HTMLResponse(
            translations(page_language(request, None)).gettext(UNKNOWN_LANGUAGE), status_code=422
        )
    user = await optional_user(request)
    # Signed in: only the token bound to the session; signed out (the sign-in page, or a
    # session that expired), the pre-sign-in double submit.
    if user is not None:
        valid = csrf_valid(request, csrf_token)
    else:
        valid = pre_sign_in_csrf_valid(request, csrf_token) or csrf_valid(request, csrf_token)
    if not valid:
        return await form_expired(request)
    if user is not None and user.language != lang:
        await crm_of(request).users.update(
            user.id, user.version, {"language": lang}, actor=actor_of(user)
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
