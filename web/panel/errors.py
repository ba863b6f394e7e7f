"""What can go wrong when the panel asks the phone system for something, in plain words.

Every error has a stable `code` (the panel's JavaScript shows its own translation of
each code) and an English `message` for other clients. JSON body as every API error:
`{"code", "message", "field"}`.

```
PanelError                 code               status
├── NoPhone                no_phone           409  the user has no interface configured
├── NotInQueue             not_in_queue       409  pausing: the phone is in no queue
├── BadNumber              bad_number         422  not a number we can dial
├── NotOnCall              not_on_call        403  a wrap-up of a call the user was not on
├── PbxDisabled            pbx_disabled       503  this node does not talk to Asterisk
├── PbxDown                pbx_down           503  no AMI connection right now
├── PbxTimeout             pbx_timeout        504  Asterisk did not answer in time
├── PbxRefused             pbx_refused        502  Asterisk answered with an error
└── PhoneFailed            phone_unavailable | phone_not_answered | phone_busy |
                           phone_hung_up | congestion          the agent's phone leg failed
```
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from web.errors import error_body


class PanelError(Exception):
    code = "panel_error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class NoPhone(PanelError):
    code = "no_phone"
    status = 409


class NotInQueue(PanelError):
    code = "not_in_queue"
    status = 409


class BadNumber(PanelError):
    code = "bad_number"
    status = 422


class NotOnCall(PanelError):
    code = "not_on_call"
    status = 403


class PbxDisabled(PanelError):
    code = "pbx_disabled"
    status = 503


class PbxDown(PanelError):
    code = "pbx_down"
    status = 503


class PbxTimeout(PanelError):
    code = "pbx_timeout"
    status = 504


class PbxRefused(PanelError):
    code = "pbx_refused"
    status = 502


class PhoneFailed(PanelError):
    """The agent's own phone did not take the call (Originate's `Reason`)."""

    status = 409

    def __init__(self, code: str, message: str, *, reason: int | None = None) -> None:
        super().__init__(message, reason=reason)
        self.code = code


def install(app: FastAPI) -> None:
    @app.exception_handler(PanelError)
    async def _panel_error(request: Request, exc: PanelError) -> Response:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.field, **exc.extra), status_code=exc.status
        )
