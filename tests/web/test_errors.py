"""One domain error model, answered by one handler: the bodies and statuses of every kind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from crm.errors import (
    AlreadyExists,
    BadCredentials,
    Conflict,
    CrmError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
)
from kernel.errors import DomainError, kinds
from recordings.errors import RecordingError, StorageFull
from routing.errors import RulesError
from supervisor.errors import (
    ActionError,
    ActionInvalid,
    NotAllowed,
    PbxUnavailable,
    ReportParameterError,
    SupervisorError,
    TargetNotFound,
    TargetNotReady,
)
from telephony.errors import PbxRefused, TelephonyError
from web.errors import install_error_handlers, status_of
from web.pages import LoginRequired
from web.panel.errors import (
    BadNumber,
    NoPhone,
    NotInQueue,
    NotOnCall,
    PanelError,
    PbxDisabled,
    PbxDown,
    PbxTimeout,
    PhoneFailed,
)

SUPERVISOR = "/api/supervisor/spy"
PANEL = "/api/panel/call"

# (the error, the path it answers, the status, the JSON body): as the four handlers of
# before answered them
CASES: list[tuple[DomainError, str, int, dict[str, Any]]] = [
    (CrmError("broken"), "/api/contacts", 400, {"code": "error", "message": "broken"}),
    (
        NotFound("no contact 7", field="contact_id"),
        "/api/contacts/7",
        404,
        {"code": "not_found", "message": "no contact 7", "field": "contact_id"},
    ),
    (
        Conflict("saved by someone else", current_version=3),
        "/api/contacts/7",
        409,
        {"code": "conflict", "message": "saved by someone else", "current_version": 3},
    ),
    (Conflict("stale"), "/api/contacts/7", 409, {"code": "conflict", "message": "stale"}),
    (AlreadyExists("taken"), "/api/users", 409, {"code": "already_exists", "message": "taken"}),
    (
        InvalidInput("bad phone", field="phone"),
        "/api/contacts",
        422,
        {"code": "invalid", "message": "bad phone", "field": "phone"},
    ),
    (
        NotAuthenticated("sign in"),
        "/api/me",
        401,
        {"code": "not_authenticated", "message": "sign in"},
    ),
    (BadCredentials("wrong"), "/api/login", 401, {"code": "bad_credentials", "message": "wrong"}),
    (Forbidden("not yours"), "/api/tasks/1", 403, {"code": "forbidden", "message": "not yours"}),
    (
        ReportParameterError("end", "2026-10-01 is before start 2026-11-01"),
        "/api/reports/queues",
        422,
        {
            "code": "invalid_parameter",
            "message": "end: 2026-10-01 is before start 2026-11-01",
            "field": "end",
            "parameter": "end",
        },
    ),
    (ActionError("failed"), SUPERVISOR, 400, {"code": "action_failed", "message": "failed"}),
    (
        TargetNotFound("no agent PJSIP/9", code="agent_not_found", field="agent"),
        SUPERVISOR,
        404,
        {"code": "agent_not_found", "message": "no agent PJSIP/9", "field": "agent"},
    ),
    (TargetNotFound("gone"), SUPERVISOR, 404, {"code": "not_found", "message": "gone"}),
    (
        TargetNotReady("not on a call", code="agent_not_on_call"),
        SUPERVISOR,
        409,
        {"code": "agent_not_on_call", "message": "not on a call"},
    ),
    (NotAllowed("no"), SUPERVISOR, 403, {"code": "forbidden", "message": "no"}),
    (
        ActionInvalid("no phone in your profile", code="no_phone", field="phone"),
        SUPERVISOR,
        422,
        {"code": "no_phone", "message": "no phone in your profile", "field": "phone"},
    ),
    (PbxUnavailable("no AMI"), SUPERVISOR, 503, {"code": "pbx_unavailable", "message": "no AMI"}),
    (
        PbxRefused("the PBX refused"),
        SUPERVISOR,
        409,
        {"code": "pbx_refused", "message": "the PBX refused"},
    ),
    (
        PbxRefused("static member", code="static_member"),
        SUPERVISOR,
        409,
        {"code": "static_member", "message": "static member"},
    ),
    (
        PbxRefused("nobody answered", code="phone_not_answered"),
        SUPERVISOR,
        409,
        {"code": "phone_not_answered", "message": "nobody answered"},
    ),
    (
        PbxRefused("the phone system refused"),
        PANEL,
        502,
        {"code": "pbx_refused", "message": "the phone system refused"},
    ),
    (
        NoPhone("no phone configured"),
        PANEL,
        409,
        {"code": "no_phone", "message": "no phone configured"},
    ),
    (
        NotInQueue("in no queue"),
        "/api/panel/pause",
        409,
        {"code": "not_in_queue", "message": "in no queue"},
    ),
    (
        BadNumber("'x' is not a phone number", field="number"),
        PANEL,
        422,
        {"code": "bad_number", "message": "'x' is not a phone number", "field": "number"},
    ),
    (
        NotOnCall("not your call"),
        "/api/panel/wrapup",
        403,
        {"code": "not_on_call", "message": "not your call"},
    ),
    (
        PbxDisabled("AMI is disabled"),
        PANEL,
        503,
        {"code": "pbx_disabled", "message": "AMI is disabled"},
    ),
    (PbxDown("not connected"), PANEL, 503, {"code": "pbx_down", "message": "not connected"}),
    (
        PbxTimeout("no answer in time"),
        PANEL,
        504,
        {"code": "pbx_timeout", "message": "no answer in time"},
    ),
    (
        PhoneFailed("phone_busy", "your phone PJSIP/101 is busy", reason=5),
        PANEL,
        409,
        {"code": "phone_busy", "message": "your phone PJSIP/101 is busy", "reason": 5},
    ),
    (
        PhoneFailed("phone_unavailable", "could not be called"),
        PANEL,
        409,
        {"code": "phone_unavailable", "message": "could not be called", "reason": None},
    ),
    (PanelError("odd"), PANEL, 400, {"code": "panel_error", "message": "odd"}),
]


def raising_app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.api_route("/{path:path}", methods=["GET"])
    async def fail(path: str) -> None:
        raise error

    return app


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


@pytest.mark.parametrize(("error", "path", "status", "body"), CASES)
async def test_each_kind_keeps_its_status_and_body(
    error: DomainError, path: str, status: int, body: dict[str, Any]
) -> None:
    reply = await get(raising_app(error), path)
    assert (reply.status_code, reply.json()) == (status, body)
    assert "retry-after" not in reply.headers


async def test_rate_limited_says_when_to_come_back() -> None:
    reply = await get(raising_app(RateLimited("too many attempts", retry_after=60)), "/api/login")
    assert reply.status_code == 429
    assert reply.json() == {
        "code": "rate_limited",
        "message": "too many attempts",
        "retry_after": 60,
    }
    assert reply.headers["retry-after"] == "60"


@pytest.mark.parametrize(
    "error",
    [StorageFull("no space left"), RulesError("routing rules file x does not exist")],
    ids=["recordings", "routing"],
)
async def test_a_kind_without_a_status_is_a_server_error(error: DomainError) -> None:
    assert status_of(error, "/api/calls/1/recording") is None
    reply = await get(raising_app(error), "/api/calls/1/recording")
    assert reply.status_code == 500
    assert reply.text == "Internal Server Error"


async def test_a_page_that_needs_a_user_redirects_to_the_login_form() -> None:
    reply = await get(raising_app(LoginRequired("/reports")), "/reports")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=/reports"


def test_one_pbx_refused_answered_per_api() -> None:
    refused = PbxRefused("Asterisk said no")
    assert (status_of(refused, SUPERVISOR), status_of(refused, PANEL)) == (409, 502)


def test_the_kind_is_the_class_not_the_name_an_error_gives_itself() -> None:
    supervisor_no_phone = ActionInvalid("no phone", code="no_phone")
    assert list(kinds(supervisor_no_phone)) == [
        "invalid",
        "action_failed",
        "supervisor_error",
    ]
    assert list(kinds(NoPhone("no phone"))) == ["no_phone", "panel_error"]
    assert (status_of(supervisor_no_phone, PANEL), status_of(NoPhone("x"), PANEL)) == (422, 409)


@pytest.mark.parametrize(
    "root",
    [CrmError, SupervisorError, PanelError, PbxRefused, RecordingError, RulesError],
)
def test_every_package_raises_domain_errors(root: type[DomainError]) -> None:
    assert issubclass(root, DomainError)


def test_link_failures_are_not_domain_errors() -> None:
    # translated by whoever asked the PBX (PbxRefused, PbxUnavailable, PbxDown …)
    assert not issubclass(TelephonyError, DomainError)


def test_the_message_is_what_people_read() -> None:
    error = ReportParameterError("offset", "must not be negative")
    assert (str(error), error.message, error.reason) == (
        "offset: must not be negative",
        "offset: must not be negative",
        "must not be negative",
    )
    assert (error.field, error.details) == ("offset", {"parameter": "offset"})
