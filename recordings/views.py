"""The ``"recording"`` object of a call record, and the player's data.

In the call record (``trubka calls --json``, the API)::

    "recording": {"status": "pending|processing|done|missing|failed|empty|purged",
                  "format": "mp3" | null, "duration_seconds": 11.98 | null,
                  "size_bytes": 49005 | null, "channels": 1 | null, "sha256": "…" | null,
                  "url": "/api/calls/<id>/recording" | null, "error": "…" | null,
                  "legal_hold": false}

or null when the call was not recorded. ``url`` is set when there is audio to play
(status ``done``); ``error`` says why a recording failed or is missing, or why a pending
one is waiting for a retry.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any, Protocol

from crm.database import Database
from kernel.call_record import DEFAULT_PBX
from recordings.audio import MEDIA_TYPES
from recordings.jobs import JobStore
from recordings.models import JobStatus, RecordingJob
from recordings.retention import PURGEABLE, RetentionPolicy


class CallLike(Protocol):
    """What a stored call (`crm.call_records.CallRow`) offers the lookup."""

    @property
    def id(self) -> int: ...

    @property
    def linkedid(self) -> str: ...

    @property
    def recording_file(self) -> str | None: ...

    @property
    def pbx(self) -> str: ...


def recording_url(call_id: int) -> str:
    return f"/api/calls/{call_id}/recording"


def pick_job(
    jobs: Sequence[RecordingJob], recording_file: str | None, pbx: str | None = None
) -> RecordingJob | None:
    """The job of the call's recording: the one for its recording_file, else the newest;
    with `pbx` (the call's), only that PBX's jobs (two PBXes may share a linkedid)."""
    if pbx is not None:
        jobs = [job for job in jobs if job.pbx == pbx]
    if not jobs:
        return None
    if recording_file:
        for job in jobs:
            if job.source_path == recording_file:
                return job
        name = PurePosixPath(recording_file).name
        for job in reversed(jobs):
            if job.source_name == name:
                return job
    return max(jobs, key=lambda job: job.id)


def recording_json(
    call_id: int | None, job: RecordingJob | None, recording_file: str | None
) -> dict[str, Any] | None:
    if job is None:
        if not recording_file:
            return None
        # Recorded, but no job yet (the event is still on its way, or recordings are off).
        return {
            "status": JobStatus.PENDING.value,
            "format": None,
            "duration_seconds": None,
            "size_bytes": None,
            "channels": None,
            "sha256": None,
            "url": None,
            "error": None,
            "legal_hold": False,
        }
    playable = job.status == JobStatus.DONE.value and job.storage_key is not None
    waiting = job.status == JobStatus.PENDING.value and job.reason
    return {
        "status": job.status,
        "format": job.format if playable else None,
        "duration_seconds": job.duration_seconds,
        "size_bytes": job.size_bytes if playable else None,
        "channels": job.channels,
        "sha256": job.sha256,
        "url": recording_url(call_id) if playable and call_id is not None else None,
        "error": job.reason
        if job.status in {JobStatus.FAILED.value, JobStatus.MISSING.value} or waiting
        else None,
        "legal_hold": job.legal_hold,
    }


def player_json(call_id: int, job: RecordingJob) -> dict[str, Any]:
    """What the player needs: the recording object plus the waveform peaks (0..1 per
    channel, evenly spaced over the duration), the media type and the download link."""
    data = recording_json(call_id, job, job.source_path) or {}
    data["peaks"] = job.peaks or []
    data["media_type"] = MEDIA_TYPES.get(job.format or "", "application/octet-stream")
    data["download_url"] = f"{data['url']}?download=1" if data.get("url") else None
    data["purged_at"] = _iso(job.purged_at)
    return data


def retention_json(job: RecordingJob, policy: RetentionPolicy) -> dict[str, Any]:
    """How long the recording is kept: the queue's policy, the day it will be purged
    (null: kept forever, or already purged), and its legal hold."""
    days = policy.days_for(job.queue)
    started = job.call_started_at or job.created_at
    purgeable = job.status in {s.value for s in PURGEABLE} or job.status in {
        JobStatus.PENDING.value,
        JobStatus.PROCESSING.value,
    }
    kept_until = (
        (started + timedelta(days=days)).isoformat(timespec="seconds")
        if days > 0 and purgeable and job.purged_at is None
        else None
    )
    return {
        "queue": job.queue,
        "days": days,
        "kept_until": kept_until,
        "legal_hold": job.legal_hold,
        "hold_reason": job.hold_reason,
        "purged_at": _iso(job.purged_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def calls_in(payload: MutableMapping[str, Any]) -> list[MutableMapping[str, Any]]:
    """The call records inside a timeline page (``items[].call``) or a card
    (``last_calls`` and its ``timeline``)."""
    found: list[MutableMapping[str, Any]] = list(payload.get("last_calls") or [])
    pages = [payload, payload.get("timeline") or {}]
    for page in pages:
        for item in page.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("call"), dict):
                found.append(item["call"])
    return found


async def fill_recordings(db: Database, calls: Sequence[MutableMapping[str, Any]]) -> None:
    """Set ``"recording"`` on call-record dicts (``crm.timeline.call_json`` leaves it null)."""
    wanted = [c for c in calls if c.get("linkedid")]
    if not wanted:
        return
    jobs = await JobStore(db).for_linkedids([str(c["linkedid"]) for c in wanted])
    for call in wanted:
        found = jobs.get(str(call["linkedid"]), [])
        job = pick_job(found, call.get("recording_file"), call.get("pbx") or DEFAULT_PBX)
        call["recording"] = recording_json(call.get("id"), job, call.get("recording_file"))


async def recordings_for_calls(
    db: Database, calls: Sequence[CallLike]
) -> dict[int, dict[str, Any] | None]:
    """The ``"recording"`` object of each call, by the call's id (one query per 500
    calls; two PBXes' calls may share a linkedid)."""
    jobs = await JobStore(db).for_linkedids([call.linkedid for call in calls])
    return {
        call.id: recording_json(
            call.id,
            pick_job(jobs.get(call.linkedid, []), call.recording_file, call.pbx),
            call.recording_file,
        )
        for call in calls
    }
