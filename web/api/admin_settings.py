"""The admin's settings over HTTP: pause reasons, service-level targets, recording retention.

- `GET /api/pause-reasons` (anyone signed in: the agent panel's pause menu), `POST` (admins:
  a new one), `PUT /api/pause-reasons/{code}` and `DELETE /api/pause-reasons/{code}`
  (admins). A pause reason is `{code, labels: {en, ru}, productive, max_minutes}`, with
  `label` in the user's language on reads;
- `GET /api/admin/settings` (supervisors and admins): the service-level target and the
  recording retention of every queue known, where each comes from;
- `PUT /api/admin/settings/service-levels` `{queue: seconds}` and
  `PUT /api/admin/settings/retention` `{queue: days}` (admins): replace the targets set
  here (the environment's and Asterisk's apply to the queues left out);
  `PUT /api/admin/settings/legal-hold` `{"queues": [...]}`: the queues whose recordings
  are on legal hold from the start.

Every change is audited (`admin_setting`, before → after).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm.users import UserInfo
from supervisor.admin_settings import AdminSettings, PauseReason
from web.api.routing_rules import actor
from web.api.views import View
from web.auth import CurrentUser, require_json, require_role
from web.deps import get_services
from web.i18n import LANG_COOKIE, negotiate, translations
from web.panel.phone import PAUSE_REASONS
from web.panel.strings import PAUSE_REASON_LABELS

router = APIRouter(prefix="/api", tags=["admin"], dependencies=[Depends(require_json)])

Reader = Annotated[UserInfo, Depends(require_role("supervisor", "admin"))]
Admin = Annotated[UserInfo, Depends(require_role("admin"))]


def builtin_pause_reasons() -> list[dict[str, Any]]:
    """The pause menu before an admin changes it: the panel's built-in reasons."""
    ru = translations("ru").gettext
    return [
        {
            "code": code,
            "labels": {"en": PAUSE_REASON_LABELS[code], "ru": ru(PAUSE_REASON_LABELS[code])},
            "productive": code in ("training", "meeting", "paperwork"),
            "max_minutes": 60 if code == "lunch" else (15 if code == "break" else None),
        }
        for code in PAUSE_REASONS
    ]


def admin_settings(request: Request) -> AdminSettings:
    settings: AdminSettings = get_services(request).admin_settings
    return settings


SettingsDep = Annotated[AdminSettings, Depends(admin_settings)]


def user_language(request: Request, user: UserInfo) -> str:
    return negotiate(
        user.language, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )


class PauseReasonOut(View):
    code: str
    label: str
    labels: dict[str, str]
    productive: bool
    max_minutes: int | None


class PauseReasonsOut(View):
    reasons: list[PauseReasonOut]


class PauseReasonChange(View):
    """A pause reason's new values (the code is the path's)."""

    labels: dict[str, str]
    productive: bool = False
    max_minutes: int | None = Field(default=None, ge=1, le=1440)


class QueueSetting(View):
    queue: str
    value: int
    source: str  # "admin", "setting" (environment), "asterisk" or "default"


class SettingsOut(View):
    service_levels: list[QueueSetting]
    service_level_default: int
    retention: list[QueueSetting]
    retention_default: int
    legal_hold: list[str]


def reason_json(reason: PauseReason, lang: str) -> dict[str, Any]:
    return {
        "code": reason.code,
        "label": reason.label(lang),
        "labels": reason.labels,
        "productive": reason.productive,
        "max_minutes": reason.max_minutes,
    }


@router.get("/pause-reasons", response_model=PauseReasonsOut)
async def list_pause_reasons(
    request: Request, user: CurrentUser, settings: SettingsDep
) -> dict[str, Any]:
    """The pause menu, in order."""
    lang = user_language(request, user)
    return {"reasons": [reason_json(r, lang) for r in settings.pause_reasons()]}


@router.post("/pause-reasons", response_model=PauseReasonOut, status_code=201)
async def add_pause_reason(
    request: Request, user: Admin, settings: SettingsDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Add a pause reason at the end of the menu."""
    reason = await settings.add_pause_reason(body, actor(user, request))
    return reason_json(reason, user_language(request, user))


@router.put("/pause-reasons/{code}", response_model=PauseReasonOut)
async def change_pause_reason(
    code: str, request: Request, user: Admin, settings: SettingsDep, body: PauseReasonChange
) -> dict[str, Any]:
    """Change a pause reason's labels, productivity or longest duration."""
    reason = await settings.update_pause_reason(code, body.model_dump(), actor(user, request))
    return reason_json(reason, user_language(request, user))


@router.delete("/pause-reasons/{code}", status_code=204)
async def delete_pause_reason(
    code: str, request: Request, user: Admin, settings: SettingsDep
) -> Response:
    """Take a pause reason out of the menu (pauses already taken keep their reason)."""
    await settings.delete_pause_reason(code, actor(user, request))
    return Response(status_code=204)


def settings_json(request: Request, settings: AdminSettings) -> dict[str, Any]:
    services = get_services(request)
    config = services.supervisor.config
    queues = set(config.thresholds()) | set(services.live.queues)
    retention = services.recordings.retention
    queues |= set(retention.queues) | set(settings.retention()) | set(settings.legal_hold())
    admin_levels, admin_days = settings.service_levels(), settings.retention()
    levels = []
    for queue in sorted(queues):
        seconds, source = config.threshold_and_source(queue)
        levels.append(
            {
                "queue": queue,
                "value": seconds,
                "source": "admin" if queue in admin_levels else source,
            }
        )
    days = []
    for queue in sorted(queues):
        value = retention.days_for(queue)
        if queue in admin_days:
            source = "admin"
        elif queue in settings.env_retention:
            source = "setting"
        else:
            source = "default"
        days.append({"queue": queue, "value": value, "source": source})
    return {
        "service_levels": levels,
        "service_level_default": config.service_level_seconds,
        "retention": days,
        "retention_default": retention.default_days,
        "legal_hold": settings.legal_hold(),
    }


@router.get("/admin/settings", response_model=SettingsOut)
async def get_settings(request: Request, user: Reader, settings: SettingsDep) -> dict[str, Any]:
    """Each queue's service-level target and recording retention, and where they come from."""
    return settings_json(request, settings)


@router.put("/admin/settings/service-levels", response_model=SettingsOut)
async def put_service_levels(
    request: Request, user: Admin, settings: SettingsDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Set the service-level targets (seconds per queue) chosen here."""
    await settings.save_service_levels(body, actor(user, request))
    return settings_json(request, settings)


@router.put("/admin/settings/retention", response_model=SettingsOut)
async def put_retention(
    request: Request, user: Admin, settings: SettingsDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Set how many days each queue's recordings are kept (0: forever)."""
    await settings.save_retention(body, actor(user, request))
    return settings_json(request, settings)


class LegalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queues: list[str] = Field(description="queue names")


@router.put("/admin/settings/legal-hold", response_model=SettingsOut)
async def put_legal_hold(
    request: Request, user: Admin, settings: SettingsDep, body: LegalHoldIn
) -> dict[str, Any]:
    """Set the queues whose recordings are on legal hold from the start."""
    await settings.save_legal_hold(body.queues, actor(user, request))
    return settings_json(request, settings)
