"""The CRM's exceptions: one root, each with a stable machine-readable code.

```
DomainError (kernel.errors)
└── CrmError                  code            (web maps it to HTTP status)
    ├── NotFound              not_found       404
    ├── Conflict              conflict        409  (a stale `version`: someone saved first)
    ├── AlreadyExists         already_exists  409  (a login or other unique value is taken)
    ├── InvalidInput          invalid         422  (names the `field` at fault)
    ├── NotAuthenticated      not_authenticated 401
    ├── BadCredentials        bad_credentials 401  (wrong login or password)
    ├── Forbidden             forbidden       403
    └── RateLimited           rate_limited    429  (carries `retry_after` seconds)
```

The web layer maps them to HTTP in one handler (`web.errors`); the command line prints
`message`. Nothing here knows about HTTP.
"""

from __future__ import annotations

from typing import Any

from kernel.errors import DomainError


class CrmError(DomainError):
    """Root of every error the CRM raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(type(self).code, message, field, **details)


class NotFound(CrmError):
    code = "not_found"


class Conflict(CrmError):
    """The record changed since the client read it (optimistic locking)."""

    code = "conflict"

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        if current_version is None:
            super().__init__(message)
        else:
            super().__init__(message, current_version=current_version)
        self.current_version = current_version


class AlreadyExists(CrmError):
    code = "already_exists"


class InvalidInput(CrmError):
    code = "invalid"


class NotAuthenticated(CrmError):
    code = "not_authenticated"


class BadCredentials(CrmError):
    code = "bad_credentials"


class Forbidden(CrmError):
    code = "forbidden"


class RateLimited(CrmError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
