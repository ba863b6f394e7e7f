"""Retention: days per queue, the purge, legal holds, the audit trail."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from recordings.models import JobStatus
from recordings.retention import RetentionPolicy
from recordings.service import RecordingService
from recordings.views import recording_json
from tests.recordings.conftest import PBX_DIR, REAL_WAV, Clock, Dirs, job_of, settle, write_wav
from tests.recordings.test_storage import all_files
from tests.recordings.test_worker import call_events

Build = Callable[..., RecordingService]
DAY = 86400.0


def test_policy() -> None:
    policy = RetentionPolicy(30, {"support": 90, "vip": 0})
    assert policy.days_for("support") == 90
    assert policy.days_for("vip") == 0
    assert policy.days_for("sales") == 30 and policy.days_for(None) == 30
    assert policy.shortest == 30
    assert RetentionPolicy(0, {"vip": 0}).shortest is None
    assert policy.describe() == "default 30, support 90, vip forever"


async def test_purge_follows_the_policy_and_legal_holds(
    make_service: Build, dirs: Dirs, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(retention_days=30, retention_queues={"support": 90, "vip": 0})
    calls = {  # linkedid: (queue, age in days, content)
        "A": ("support", 100, "audio"),
        "B": ("support", 60, "audio"),
        "C": (None, 40, "audio"),
        "D": ("vip", 1000, "audio"),
        "E": ("support", 100, "audio"),
        "F": (None, 40, "truncated"),
    }
    for linkedid, (queue, age, content) in calls.items():
        name = f"{linkedid}.wav"
        if content == "audio":
            write_wav(dirs.spool / name, 1.0)
        else:
            (dirs.spool / name).write_bytes(REAL_WAV.read_bytes()[:20_000])
        events = call_events(
            linkedid, f"{PBX_DIR}/{name}", queue=queue, started=clock() - age * DAY
        )
        await service.ingest.apply(events)
    await settle(service, clock)
    jobs = {j.linkedid: j for j in await service.store.list_jobs()}
    assert [jobs[k].status for k in "ABCDEF"] == ["done"] * 5 + ["failed"]
    assert (dirs.spool / "F.wav").exists()  # a failed original is kept …
    await service.store.set_hold([jobs["E"].id], True, "case 2026-17 (court order)", "cli", clock())

    dry = await service.purge(dry_run=True)
    assert sorted(dry.purged) == sorted(jobs[k].id for k in "ACF")
    assert dry.held == [jobs["E"].id]
    assert len(all_files(dirs.storage)) == 5  # a dry run changes nothing

    caplog.set_level(logging.INFO, logger="recordings.retention")
    report = await service.purge()
    assert sorted(report.purged) == sorted(jobs[k].id for k in "ACF")
    assert report.held == [jobs["E"].id] and report.errors == {}
    assert report.freed_bytes == (jobs["A"].size_bytes or 0) + (jobs["C"].size_bytes or 0)
    remaining = {p.name for p in all_files(dirs.storage)}
    assert remaining == {f"{k}-{jobs[k].id}.mp3" for k in "BDE"}
    assert not (dirs.spool / "F.wav").exists()  # … until its retention ends

    a = await job_of(service, "A")
    assert a.status == JobStatus.PURGED and a.purged_at is not None and a.storage_key is None
    assert a.sha256 == jobs["A"].sha256  # the history keeps what the recording was
    data = recording_json(5, a, a.source_path)
    assert data is not None and data["status"] == "purged" and data["url"] is None
    assert data["duration_seconds"] == pytest.approx(1.0)

    audit = [e for e in await service.store.audit_log() if e.action == "purged"]
    assert sorted(e.job_id for e in audit if e.job_id is not None) == sorted(
        jobs[k].id for k in "ACF"
    )
    detail = next(e.detail for e in audit if e.job_id == jobs["A"].id)
    assert (
        detail is not None and "queue support, retention 90 days" in detail and "removed" in detail
    )
    assert any(f"purged job {jobs['A'].id}" in r.getMessage() for r in caplog.records)
    assert any("kept on legal hold" in r.getMessage() for r in caplog.records)

    again = await service.purge()
    assert again.purged == [] and again.held == [jobs["E"].id]  # idempotent

    await service.store.set_hold([jobs["E"].id], False, None, "cli", clock())
    released = await service.purge()
    assert released.purged == [jobs["E"].id]
    actions = [
        (e.action, e.job_id) for e in await service.store.audit_log() if e.job_id == jobs["E"].id
    ]
    assert actions == [("purged", jobs["E"].id), ("release", jobs["E"].id), ("hold", jobs["E"].id)]


async def test_nothing_is_purged_without_a_policy(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    service = make_service()
    write_wav(dirs.spool / "x.wav", 1.0)
    await service.ingest.apply(call_events("X", f"{PBX_DIR}/x.wav", started=clock() - 5000 * DAY))
    await settle(service, clock)
    report = await service.purge()
    assert report.purged == [] and len(all_files(dirs.storage)) == 1
