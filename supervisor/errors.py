"""Errors of the supervisor package.

```
DomainError (kernel.errors)
└── SupervisorError                  code (the web maps it to HTTP status)
    ├── ReportParameterError         invalid_parameter      422 (CLI: usage error)
    └── ActionError                  a supervisor action was refused or failed
        ├── TargetNotFound           agent_not_found / call_not_found / not_a_member   404
        ├── TargetNotReady           agent_not_on_call …                               409
        ├── NotAllowed               forbidden (not a supervisor or admin)             403
        ├── ActionInvalid            invalid / no_phone                                422
        └── PbxUnavailable           pbx_unavailable (no AMI link, or no answer in time) 503
```

Asterisk refusing an action (`Response: Error`) is `telephony.errors.PbxRefused`
(`pbx_refused`, `phone_not_answered`, `static_member`: 409 here).

An action that raises any of these has changed nothing on the PBX (it was refused
before anything was sent, or the PBX refused it).
"""

from __future__ import annotations

from typing import Any

from kernel.errors import DomainError


class SupervisorError(DomainError):
    """Root of the supervisor package's errors."""

    code = "supervisor_error"

    def __init__(
        self, message: str, *, code: str | None = None, field: str | None = None, **details: Any
    ) -> None:
        super().__init__(code or type(self).code, message, field, **details)


class ReportParameterError(SupervisorError):
    """A report parameter (date, range, grouping, filter) is invalid.

    `message` names the parameter (`end: 2026-10-01 is before start 2026-11-01`), `reason`
    is the same without it (for a form that shows it next to the parameter)."""

    code = "invalid_parameter"

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}", field=parameter, parameter=parameter)
        self.parameter = parameter
        self.reason = reason


class ActionError(SupervisorError):
    """A supervisor action (listen, pause, log out, hang up …) was refused or failed."""

    code = "action_failed"


class TargetNotFound(ActionError):
    """The agent, call or channel the action names does not exist (any more)."""

    code = "not_found"


class TargetNotReady(ActionError):
    """The target exists but the action does not apply now (e.g. not on a call)."""

    code = "conflict"


class NotAllowed(ActionError):
    """The user may not do this (supervisor actions need the supervisor or admin role)."""

    code = "forbidden"


class ActionInvalid(ActionError):
    """The request itself is wrong (an unknown mode, a reason too long, no own phone)."""

    code = "invalid"


class PbxUnavailable(ActionError):
    """No AMI link right now, or the PBX did not answer in time."""

    code = "pbx_unavailable"
