"""One ASGI middleware for the HTTP hardening every response needs (docs/security.md).

- Request bodies: a declared `Content-Length` over the limit is answered 413 before a
  byte of the body is read; a body sent without a length (chunked) is counted as it
  is read and refused the moment it passes the limit.
- Headers on every response: `X-Content-Type-Options: nosniff` and a Referrer-Policy;
  pages also get a Content-Security-Policy (scripts and styles from this site only, no
  inline code, no framing) and `X-Frame-Options: DENY`; `/api` answers are
  `Cache-Control: no-store` unless the route chose its own caching. The API's own
  documentation page (Swagger UI, served by Trubka, started by a script file of ours)
  gets a policy of its own: Swagger UI sets inline styles on its elements.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_PATHS = ("/api/docs",)


class SecurityMiddleware:
    """Body limit and security headers (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: Callable[[], int]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.max_body_bytes()
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(scope, send, limit)
            return
        headers = _security_headers(path)
        started = False
        refused = False  # a body without a length passed the limit: 413 sent

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                raw = list(message.get("headers", []))
                names = {name.lower() for name, _ in raw}
                raw += [(k, v) for k, v in headers if k not in names]
                message = {**message, "headers": raw}
            await send(message)

        received = 0

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    refused = True
                    await _too_large(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except Exception:
            if not refused:  # the app only saw its client "disconnect" after the 413
                raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _security_headers(path: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    if path in DOCS_PATHS:
        headers.append((b"content-security-policy", DOCS_POLICY.encode()))
        headers.append((b"x-frame-options", b"DENY"))
    elif path.startswith("/api/") or path == "/metrics":
        headers.append((b"cache-control", b"no-store"))
    elif not path.startswith("/static/"):
        headers.append((b"content-security-policy", PAGE_POLICY.encode()))
        headers.append((b"x-frame-options", b"DENY"))
    return headers


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    message = f"the request body is larger than {limit} bytes"
    path: str = scope.get("path", "")
    body: bytes
    if path.startswith("/api/"):
        body = json.dumps({"code": "too_large", "message": message}).encode()
        content_type = b"application/json"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    headers: list[Any] = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *_security_headers(path),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
