"""One place that turns errors into HTTP responses.

API responses are JSON: `{"code": <stable code>, "message": <human message>,
"field": <the field at fault, when there is one>}`. Codes: `not_found` 404,
`conflict` 409 (with `current_version`), `already_exists` 409, `invalid` and
`validation_error` 422, `not_authenticated` and `bad_credentials` 401, `forbidden` 403,
`rate_limited` 429 (with a `Retry-After` header), `unsupported_media_type` 415,
`method_not_allowed` 405.
Pages (paths outside `/api/`) keep Starlette's own error pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm.errors import Conflict, CrmError, RateLimited

STATUS = {
    "not_found": 404,
    "conflict": 409,
    "already_exists": 409,
    "invalid": 422,
    "not_authenticated": 401,
    "bad_credentials": 401,
    "forbidden": 403,
    "rate_limited": 429,
}
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


def crm_error_response(exc: CrmError) -> JSONResponse:
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, Conflict) and exc.current_version is not None:
        extra["current_version"] = exc.current_version
    if isinstance(exc, RateLimited):
        extra["retry_after"] = exc.retry_after
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(
        error_body(exc.code, exc.message, exc.field, **extra),
        status_code=STATUS.get(exc.code, 400),
        headers=headers or None,
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any], field: str) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown field {field!r}"
    if kind == "missing":
        return f"{field!r} is required"
    return f"{field}: {error.get('msg', 'invalid value')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CrmError)
    async def _crm(request: Request, exc: CrmError) -> Response:
        return crm_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        details = []
        for error in errors:
            field = _field(tuple(error.get("loc", ())))
            details.append(
                {"field": field, "message": _message(error, field), "type": error.get("type")}
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
            return await http_exception_handler(request, exc)
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(
            error_body(code, message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
