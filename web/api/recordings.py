"""A call's recording over HTTP: the audio, the player's data, legal holds, the audit.

Who may do what (`crm.call_access`): anyone who may see the call hears it and downloads
it; supervisors and admins also see its retention and audit trail and set or release a
legal hold; admins run the retention purge.

- `GET|HEAD /api/calls/<id>/recording[?download=1]` — the audio (`Accept-Ranges: bytes`,
  206 + `Content-Range` for a `Range`, 416 past the end); `download=1` adds
  `Content-Disposition: attachment` with a generated name. Each play and download is
  audited: the first request of a play (no `Range`, or one starting at byte 0), never
  each seek, never HEAD.
- `GET /api/calls/<id>/recording/player` — status, duration, peaks, url, download_url;
  for supervisors and admins also `retention` (days, kept_until, legal hold).
- `PUT /api/calls/<id>/recording/hold` `{"hold": true, "reason": "…"}` — set or release
  a legal hold on the call's recording (supervisor, admin); audited.
- `GET /api/calls/<id>/recording/audit` — the recording's audit trail (supervisor, admin).
- `GET /api/recordings/retention` — the policy and the purge schedule (supervisor, admin).
- `POST /api/recordings/purge` `{"dry_run": false}` — run the retention purge now (admin);
  each purged recording is audited with the admin's login.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from crm.call_access import is_manager
from crm.call_records import CallRow
from crm.errors import InvalidInput, NotFound
from crm.users import UserInfo
from recordings.models import RecordingJob
from recordings.service import RecordingService
from recordings.views import pick_job, player_json, recording_json, retention_json
from web.api.calls import call_query
from web.auth import CurrentUser, client_ip, current_user, require_json, require_role
from web.deps import get_services
from web.media import media_response
from web.params import PathId

router = APIRouter(tags=["recordings"], dependencies=[Depends(require_json), Depends(current_user)])
_FROM_START = re.compile(r"^\s*bytes\s*=\s*0*0\s*-", re.IGNORECASE)
MANAGERS = Depends(require_role("supervisor", "admin"))


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hold: bool
    reason: Annotated[str | None, Field(max_length=500)] = None


class PurgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False


def recordings_of(request: Request) -> RecordingService:
    return get_services(request).recordings


async def _call_and_job(
    request: Request, user: UserInfo, call_id: int
) -> tuple[CallRow, RecordingJob | None]:
    row = await call_query(request).visible_row(user, call_id)
    jobs = await recordings_of(request).store.for_linkedids([row.linkedid])
    return row, pick_job(jobs.get(row.linkedid, []), row.recording_file, row.pbx)


def starts_a_play(range_header: str | None) -> bool:
    """The request that starts a play or a download (not a seek within one)."""
    return range_header is None or bool(_FROM_START.match(range_header))


@router.head("/api/calls/{call_id}/recording", include_in_schema=False)
@router.get("/api/calls/{call_id}/recording", response_class=Response)
async def recording_audio(
    call_id: PathId,
    request: Request,
    user: CurrentUser,
    download: Annotated[bool, Query()] = False,
) -> Response:
    service = recordings_of(request)
    row, job = await _call_and_job(request, user, call_id)
    if job is None:
        raise NotFound("this call was not recorded")
    ref = service.media(job)
    if ref is None:
        raise NotFound(f"the recording is {job.status}: there is no audio to play")
    if request.method == "GET" and starts_a_play(request.headers.get("range")):
        action = "downloaded" if download else "played"
        detail = f"{user.role.value} {user.name} (user {user.id}), call {row.id}" + (
            f", from {client_ip(request)}" if client_ip(request) else ""
        )
        await service.store.record(action, job, user.login, detail, service.clock())
    return await media_response(
        request,
        service.storage,
        ref.key,
        media_type=ref.media_type,
        sha256=ref.sha256,
        filename=ref.filename,
        download=download,
    )


@router.get("/api/calls/{call_id}/recording/player")
async def recording_player(call_id: PathId, request: Request, user: CurrentUser) -> dict[str, Any]:
    """What the player shows: status, duration, peaks, url, download_url (+ retention)."""
    service = recordings_of(request)
    row, job = await _call_and_job(request, user, call_id)
    if job is None:
        data = recording_json(row.id, None, row.recording_file) or {"status": "none"}
        data.update(peaks=[], media_type=None, download_url=None, purged_at=None)
        data.setdefault("url", None)
    else:
        data = player_json(row.id, job)
    data["call_id"] = row.id
    data["can_manage"] = is_manager(user)
    if is_manager(user) and job is not None:
        data["retention"] = retention_json(job, service.retention)
    return data


@router.put("/api/calls/{call_id}/recording/hold", dependencies=[MANAGERS])
async def recording_hold(
    call_id: PathId, body: HoldIn, request: Request, user: CurrentUser
) -> dict[str, Any]:
    """Set or release the legal hold of the call's recording (kept from the purge)."""
    service = recordings_of(request)
    _, job = await _call_and_job(request, user, call_id)
    if job is None:
        raise NotFound("this call was not recorded")
    reason = (body.reason or "").strip() or None
    if body.hold and reason is None:
        raise InvalidInput("say why the recording is held (a case, a request)", field="reason")
    jobs = await service.store.set_hold([job.id], body.hold, reason, user.login, service.clock())
    return retention_json(jobs[0], service.retention)


@router.get("/api/calls/{call_id}/recording/audit", dependencies=[MANAGERS])
async def recording_audit(
    call_id: PathId,
    request: Request,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Plays, downloads, holds, retries and purges of this call's recording, newest first."""
    service = recordings_of(request)
    _, job = await _call_and_job(request, user, call_id)
    if job is None:
        return {"items": []}
    entries = await service.store.audit_log(limit=limit, job_id=job.id)
    return {"items": [entry.describe() for entry in entries]}


@router.get("/api/recordings/retention", dependencies=[MANAGERS])
async def retention_policy(request: Request) -> dict[str, Any]:
    service = recordings_of(request)
    policy = service.retention
    return {
        "default_days": policy.default_days,
        "queues": dict(sorted(policy.queues.items())),
        "purge_interval_hours": round(service.config.purge_interval / 3600, 2),
        "description": policy.describe(),
    }


@router.post("/api/recordings/purge", dependencies=[Depends(require_role("admin"))])
async def run_purge(body: PurgeIn, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Apply the retention policy now (admins); `dry_run` only says what would go."""
    report = await recordings_of(request).purge(dry_run=body.dry_run, actor=user.login)
    return {
        "dry_run": report.dry_run,
        "purged": report.purged,
        "held": report.held,
        "errors": {str(k): v for k, v in report.errors.items()},
        "freed_bytes": report.freed_bytes,
    }
