"""What can go wrong when the panel asks the phone system for something, in plain words.

Every error has a stable `code` (the panel's JavaScript shows its own translation of
each code) and an English `message` for other clients. JSON body as every API error:
`{"code", "message", "field"}`; `web.errors` gives the status.

```
DomainError (kernel.errors)
└── PanelError             code               status
    ├── NoPhone            no_phone           409  the user has no interface configured
    ├── NotInQueue         not_in_queue       409  pausing: the phone is in no queue
    ├── BadNumber          bad_number         422  not a number we can dial
    ├── NotOnCall          not_on_call        403  a wrap-up of a call the user was not on
    ├── PbxDisabled        pbx_disabled       503  this node does not talk to Asterisk
    ├── PbxDown            pbx_down           503  no AMI connection right now
    ├── PbxTimeout         pbx_timeout        504  Asterisk did not answer in time
    └── PhoneFailed        phone_unavailable | phone_not_answered | phone_busy |
                           phone_hung_up | congestion   409  the agent's phone leg failed
```

Asterisk answering with an error is `telephony.errors.PbxRefused` (`pbx_refused`, 502 on
the panel's API).
"""

from __future__ import annotations

from typing import Any

from kernel.errors import DomainError


class PanelError(DomainError):
    code = "panel_error"

    def __init__(
        self, message: str, *, code: str | None = None, field: str | None = None, **details: Any
    ) -> None:
        super().__init__(code or type(self).code, message, field, **details)


class NoPhone(PanelError):
    code = "no_phone"


class NotInQueue(PanelError):
    code = "not_in_queue"


class BadNumber(PanelError):
    code = "bad_number"


class NotOnCall(PanelError):
    code = "not_on_call"


class PbxDisabled(PanelError):
    code = "pbx_disabled"


class PbxDown(PanelError):
    code = "pbx_down"


class PbxTimeout(PanelError):
    code = "pbx_timeout"


class PhoneFailed(PanelError):
    """The agent's own phone did not take the call (Originate's `Reason`)."""

    code = "phone_failed"  # the kind; each error names the failure (`phone_busy` …)

    def __init__(self, code: str, message: str, *, reason: int | None = None) -> None:
        super().__init__(message, code=code, reason=reason)
