"""One place that turns errors into HTTP responses, installed once on the app.

API responses are JSON: `{"code": <stable code>, "message": <human message>,
"field": <the field at fault, when there is one>}` and the error's details (e.g.
`current_version`, `retry_after`, `parameter`).

Every :class:`~kernel.errors.DomainError` is answered here; its status comes from its
kind (the `code` its class declares, then its ancestors', see `kernel.errors.kinds`) in
`STATUS`: `not_found` 404, `conflict` 409 (with `current_version`), `already_exists` 409,
`invalid` and `invalid_parameter` 422, `not_authenticated` and `bad_credentials` 401,
`forbidden` 403, `rate_limited` 429 (with a `Retry-After` header), `pbx_unavailable` 503,
the panel's codes (`web.panel.errors`) … A kind the web has no status for is a server
error (500, logged). Request bodies that do not validate are `validation_error` 422;
other HTTP errors of the API are `method_not_allowed` 405, `unsupported_media_type` 415 …
Pages (paths outside `/api/`) answer a browser's 404 and 403 with an HTML page in the
visitor's language (`web.pages.site.error_page`; a client that asks for JSON still gets
JSON), other statuses with Starlette's own answer; a page that needs a signed-in user
redirects to the login form (or shows the 403 page).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kernel.errors import DomainError, kinds
from web.error_text import translate, validation_message
from web.pages import LoginRequired, login_required
from web.pages.site import error_page, wants_html

STATUS = {
    # crm.errors
    "error": 400,
    "not_found": 404,
    "conflict": 409,
    "already_exists": 409,
    "invalid": 422,
    "not_authenticated": 401,
    "bad_credentials": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "mail_failed": 502,  # crm.mail.letters: the SMTP server did not take the letter
    # supervisor.errors (its actions' not_found, conflict, forbidden, invalid are above)
    "invalid_parameter": 422,
    "action_failed": 400,
    "pbx_unavailable": 503,
    # telephony.errors: the PBX refused (a supervisor action, see PANEL_STATUS)
    "pbx_refused": 409,
    # web.panel.errors
    "panel_error": 400,
    "no_phone": 409,
    "not_in_queue": 409,
    "bad_number": 422,
    "not_on_call": 403,
    "pbx_disabled": 503,
    "pbx_down": 503,
    "pbx_timeout": 504,
    "phone_failed": 409,
}
# The panel's API answers the PBX's refusal of an agent's click as a bad gateway, like its
# other PBX failures (503, 504); the supervisor API answers it as a conflict.
PANEL_PREFIX = "/api/panel/"
PANEL_STATUS = {"pbx_refused": 502}

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    return body


def status_of(error: DomainError, path: str) -> int | None:
    """The HTTP status of `error` answering a request for `path` (None: no status)."""
    overrides = PANEL_STATUS if path.startswith(PANEL_PREFIX) else {}
    for kind in kinds(error):
        status = overrides.get(kind, STATUS.get(kind))
        if status is not None:
            return status
    return None


def domain_error_response(
    error: DomainError, status: int, request: Request | None = None
) -> JSONResponse:
    headers: dict[str, str] = {}
    retry_after = error.details.get("retry_after")
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(
        error_body(
            error.code,
            translate(request, error.message) if request else error.message,
            error.field,
            **error.details,
        ),
        status_code=status,
        headers=headers or None,
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    """Every error handler of the app."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        status = status_of(exc, request.url.path)
        if status is None:
            raise exc  # no answer for it: the server error page, and the log
        return domain_error_response(exc, status, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        details = []
        for error in errors:
            field = _field(tuple(error.get("loc", ())))
            details.append(
                {
                    "field": field,
                    "message": validation_message(request, error, field),
                    "type": error.get("type"),
                }
            )
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        return JSONResponse(
            error_body(
                "validation_error", str(first["message"]), str(first["field"]), errors=details
            ),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith("/api/"):
            page = await error_page(request, exc.status_code) if wants_html(request) else None
            if page is not None:
                return page
            if "application/json" not in request.headers.get("accept", ""):
                return await http_exception_handler(request, exc)
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(
            error_body(code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.add_exception_handler(LoginRequired, login_required)
