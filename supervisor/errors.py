"""Errors of the supervisor package.

```
SupervisorError                      code (the web maps it to HTTP status)
├── ReportParameterError             invalid_parameter      422 (CLI: usage error)
└── ActionError                      a supervisor action was refused or failed
    ├── TargetNotFound               agent_not_found / call_not_found / not_a_member   404
    ├── TargetNotReady               agent_not_on_call …                               409
    ├── NotAllowed                   forbidden (not a supervisor or admin)             403
    ├── ActionInvalid                invalid / no_phone                                422
    ├── PbxRefused                   pbx_refused (Asterisk answered `Response: Error`)  409
    └── PbxUnavailable               pbx_unavailable (no AMI link, or no answer in time) 503
```

An action that raises any of these has changed nothing on the PBX (it was refused
before anything was sent, or the PBX refused it).
"""

from __future__ import annotations


class SupervisorError(Exception):
    """Root of the supervisor package's errors."""


class ReportParameterError(SupervisorError):
    """A report parameter (date, range, grouping, filter) is invalid; the message says why."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class ActionError(SupervisorError):
    """A supervisor action (listen, pause, log out, hang up …) was refused or failed."""

    status = 400
    code = "action_failed"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class TargetNotFound(ActionError):
    """The agent, call or channel the action names does not exist (any more)."""

    status = 404
    code = "not_found"


class TargetNotReady(ActionError):
    """The target exists but the action does not apply now (e.g. not on a call)."""

    status = 409
    code = "conflict"


class NotAllowed(ActionError):
    """The user may not do this (supervisor actions need the supervisor or admin role)."""

    status = 403
    code = "forbidden"


class ActionInvalid(ActionError):
    """The request itself is wrong (an unknown mode, a reason too long, no own phone)."""

    status = 422
    code = "invalid"


class PbxRefused(ActionError):
    """Asterisk answered the action with an error (its message is kept)."""

    status = 409
    code = "pbx_refused"


class PbxUnavailable(ActionError):
    """No AMI link right now, or the PBX did not answer in time."""

    status = 503
    code = "pbx_unavailable"
