"""The persistent job queue: every query and state change of ``recording_jobs``.

States and who moves a job between them::

    pending ──claim──▶ processing ──▶ done | empty | failed
       ▲  │                │
       │  └─ checks ─▶ missing | failed (refused name)
       │                   └─ ENOSPC, storage error, shutdown, dead owner ─▶ pending
       └──────── retry (command) ◀── missing | failed

A claim is a conditional UPDATE (``WHERE status = 'pending'``), so two workers never
take the same job. A worker holds a lease it renews while it works; a job whose owner
died (its lease ran out, or its process is gone from this host) returns to pending.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, func, or_, select, update

from crm.database import Database
from recordings.models import JobStatus, RecordingAudit, RecordingJob

_BATCH = 500


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def new_owner() -> str:
    """``host:pid:token`` — who holds a job while processing it."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str, host: str, live: Collection[str] = ()) -> bool:
    """True when `owner` names a process on `host` that no longer exists, or a worker of
    this process that is not in `live` (stopped and replaced)."""
    owner_host, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if owner_host != host or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in live
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing found, written to the job in one update."""

    status: JobStatus
    reason: str | None = None
    format: str | None = None
    bitrate_kbps: int | None = None
    storage_key: str | None = None
    size_bytes: int | None = None
    original_size: int | None = None
    original_codec: str | None = None
    duration_seconds: float | None = None
    channels: int | None = None
    sample_rate: int | None = None
    sha256: str | None = None
    peaks: list[list[float]] | None = None

    def values(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "reason": self.reason,
            "format": self.format,
            "bitrate_kbps": self.bitrate_kbps,
            "storage_key": self.storage_key,
            "size_bytes": self.size_bytes,
            "original_size": self.original_size,
            "original_codec": self.original_codec,
            "duration_seconds": self.duration_seconds,
            "channels": self.channels,
            "sample_rate": self.sample_rate,
            "sha256": self.sha256,
            "peaks": self.peaks,
        }


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- reading ---------------------------------------------------------------------
    async def get(self, job_id: int) -> RecordingJob | None:
        async with self.db.session() as session:
            return await session.get(RecordingJob, job_id)

    async def find(self, ref: str) -> list[RecordingJob]:
        """Jobs by id (digits) or by linkedid."""
        query = select(RecordingJob)
        if ref.isdigit():
            query = query.where(or_(RecordingJob.id == int(ref), RecordingJob.linkedid == ref))
        else:
            query = query.where(RecordingJob.linkedid == ref)
        async with self.db.session() as session:
            return list((await session.scalars(query.order_by(RecordingJob.id))).all())

    async def list_jobs(
        self,
        *,
        statuses: Iterable[str] | None = None,
        linkedid: str | None = None,
        limit: int | None = 100,
        newest_first: bool = True,
    ) -> list[RecordingJob]:
        query = select(RecordingJob)
        if statuses is not None:
            query = query.where(RecordingJob.status.in_(list(statuses)))
        if linkedid is not None:
            query = query.where(RecordingJob.linkedid == linkedid)
        order = RecordingJob.id.desc() if newest_first else RecordingJob.id
        query = query.order_by(order)
        if limit is not None:
            query = query.limit(limit)
        async with self.db.session() as session:
            return list((await session.scalars(query)).all())

    async def counts(self) -> dict[str, int]:
        query = select(RecordingJob.status, func.count()).group_by(RecordingJob.status)
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        counts = {status.value: 0 for status in JobStatus}
        counts.update({str(status): int(count) for status, count in rows})
        return counts

    async def for_linkedids(self, linkedids: Sequence[str]) -> dict[str, list[RecordingJob]]:
        found: dict[str, list[RecordingJob]] = {}
        unique = list(dict.fromkeys(linkedids))
        async with self.db.session() as session:
            for start in range(0, len(unique), _BATCH):
                query = (
                    select(RecordingJob)
                    .where(RecordingJob.linkedid.in_(unique[start : start + _BATCH]))
                    .order_by(RecordingJob.id)
                )
                for job in (await session.scalars(query)).all():
                    found.setdefault(job.linkedid or "", []).append(job)
        return found

    async def known_names(self, names: Sequence[str], pbx: str | None = None) -> set[str]:
        """The base names some job knows (of PBX `pbx`'s jobs only, when given)."""
        known: set[str] = set()
        async with self.db.session() as session:
            for start in range(0, len(names), _BATCH):
                query = select(RecordingJob.source_name).where(
                    RecordingJob.source_name.in_(list(names[start : start + _BATCH]))
                )
                if pbx is not None:
                    query = query.where(RecordingJob.pbx == pbx)
                known.update((await session.scalars(query)).all())
        return known

    async def due(self, now: float, limit: int = 200) -> list[RecordingJob]:
        """Pending jobs whose next check is due, oldest first."""
        query = (
            select(RecordingJob)
            .where(
                RecordingJob.status == JobStatus.PENDING.value,
                RecordingJob.next_check_at <= utc(now),
            )
            .order_by(RecordingJob.next_check_at, RecordingJob.id)
            .limit(limit)
        )
        async with self.db.session() as session:
            return list((await session.scalars(query)).all())

    async def next_due_at(self) -> datetime | None:
        query = select(func.min(RecordingJob.next_check_at)).where(
            RecordingJob.status == JobStatus.PENDING.value
        )
        async with self.db.session() as session:
            value: datetime | None = await session.scalar(query)
        return value

    # --- checks and processing ------------------------------------------------------
    async def update_many(self, changes: Sequence[tuple[int, dict[str, Any]]], now: float) -> None:
        """Apply check results (only to jobs still pending) in one transaction."""
        if not changes:
            return
        async with self.db.transaction() as session:
            for job_id, values in changes:
                await session.execute(
                    update(RecordingJob)
                    .where(
                        RecordingJob.id == job_id, RecordingJob.status == JobStatus.PENDING.value
                    )
                    .values(**values, updated_at=utc(now))
                )

    async def claim(self, job_id: int, owner: str, now: float, lease: float) -> RecordingJob | None:
        async with self.db.transaction() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(RecordingJob)
                .where(RecordingJob.id == job_id, RecordingJob.status == JobStatus.PENDING.value)
                .values(
                    status=JobStatus.PROCESSING.value,
                    owner=owner,
                    lease_until=utc(now + lease),
                    attempts=RecordingJob.attempts + 1,
                    updated_at=utc(now),
                )
            )
            if result.rowcount != 1:
                return None
            return await session.get(RecordingJob, job_id, populate_existing=True)

    async def renew(self, owner: str, job_ids: Sequence[int], until: float) -> None:
        if not job_ids:
            return
        async with self.db.transaction() as session:
            await session.execute(
                update(RecordingJob)
                .where(
                    RecordingJob.id.in_(list(job_ids)),
                    RecordingJob.owner == owner,
                    RecordingJob.status == JobStatus.PROCESSING.value,
                )
                .values(lease_until=utc(until))
            )

    async def finish(self, job_id: int, owner: str, outcome: Outcome, now: float) -> bool:
        """Record the outcome; False when the job is no longer ours (reclaimed meanwhile)."""
        async with self.db.transaction() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(RecordingJob)
                .where(
                    RecordingJob.id == job_id,
                    RecordingJob.owner == owner,
                    RecordingJob.status == JobStatus.PROCESSING.value,
                )
                .values(
                    **outcome.values(),
                    owner=None,
                    lease_until=None,
                    processed_at=utc(now),
                    updated_at=utc(now),
                )
            )
            return result.rowcount == 1

    async def requeue(
        self, job_id: int, owner: str, *, reason: str | None, retry_at: float, now: float
    ) -> bool:
        """Back to pending (full disk, storage error, shutdown), checked again at `retry_at`."""
        async with self.db.transaction() as session:
            result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                update(RecordingJob)
                .where(
                    RecordingJob.id == job_id,
                    RecordingJob.owner == owner,
                    RecordingJob.status == JobStatus.PROCESSING.value,
                )
                .values(
                    status=JobStatus.PENDING.value,
                    reason=reason,
                    owner=None,
                    lease_until=None,
                    next_check_at=utc(retry_at),
                    seen_size=None,
                    seen_mtime_ns=None,
                    seen_at=None,
                    updated_at=utc(now),
                )
            )
            return result.rowcount == 1

    async def reclaim(
        self, now: float, *, live: Collection[str] = (), host: str | None = None
    ) -> list[int]:
        """Processing jobs whose owner is gone (lease expired, a dead process on this host,
        or a stopped worker of this process: `live` names the running ones) return to
        pending; returns their ids."""
        host = host or socket.gethostname()[:80]
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(RecordingJob.id, RecordingJob.owner, RecordingJob.lease_until).where(
                        RecordingJob.status == JobStatus.PROCESSING.value
                    )
                )
            ).all()
            stale = [
                job_id
                for job_id, owner, lease in rows
                if owner is None or lease is None or lease <= utc(now) or owner_is_dead(owner, host)
            ]
            if stale:
                await session.execute(
                    update(RecordingJob)
                    .where(
                        RecordingJob.id.in_(stale),
                        RecordingJob.status == JobStatus.PROCESSING.value,
                    )
                    .values(
                        status=JobStatus.PENDING.value,
                        owner=None,
                        lease_until=None,
                        next_check_at=utc(now),
                        seen_size=None,
                        seen_mtime_ns=None,
                        seen_at=None,
                        reason="resumed after the previous worker stopped",
                        updated_at=utc(now),
                    )
                )
        return stale

    # --- commands --------------------------------------------------------------------
    async def retry(
        self,
        statuses: Iterable[JobStatus],
        now: float,
        *,
        job_ids: Sequence[int] | None = None,
        actor: str = "cli",
    ) -> list[int]:
        """Re-queue jobs in `statuses` (all of them, or only `job_ids`); returns their ids."""
        wanted = [status.value for status in statuses]
        async with self.db.transaction() as session:
            query = select(RecordingJob).where(RecordingJob.status.in_(wanted))
            if job_ids is not None:
                query = query.where(RecordingJob.id.in_(list(job_ids)))
            jobs = list((await session.scalars(query.order_by(RecordingJob.id))).all())
            for job in jobs:
                audit(
                    session,
                    "retried",
                    job,
                    actor,
                    f"was {job.status}: {job.reason or ''}".strip(),
                    now,
                )
                job.status = JobStatus.PENDING.value
                job.reason = None
                job.ready_at = (
                    utc(now) if job.ready_at is not None or job.call_ended else job.ready_at
                )
                job.next_check_at = utc(now)
                job.seen_size = job.seen_mtime_ns = None
                job.seen_at = None
                job.updated_at = utc(now)
            return [job.id for job in jobs]

    async def set_hold(
        self, job_ids: Sequence[int], hold: bool, reason: str | None, actor: str, now: float
    ) -> list[RecordingJob]:
        async with self.db.transaction() as session:
            jobs = list(
                (
                    await session.scalars(
                        select(RecordingJob).where(RecordingJob.id.in_(list(job_ids)))
                    )
                ).all()
            )
            for job in jobs:
                job.legal_hold = hold
                job.hold_reason = reason if hold else None
                job.updated_at = utc(now)
                audit(session, "hold" if hold else "release", job, actor, reason, now)
            return jobs

    async def record(
        self, action: str, job: RecordingJob, actor: str, detail: str | None, now: float
    ) -> None:
        """Add one line to the audit trail (plays, downloads)."""
        async with self.db.transaction() as session:
            audit(session, action, job, actor, detail, now)

    async def audit_log(self, limit: int = 100, job_id: int | None = None) -> list[RecordingAudit]:
        query = select(RecordingAudit).order_by(RecordingAudit.id.desc()).limit(limit)
        if job_id is not None:
            query = query.where(RecordingAudit.job_id == job_id)
        async with self.db.session() as session:
            return list((await session.scalars(query)).all())


def audit(
    session: Any, action: str, job: RecordingJob | None, actor: str, detail: str | None, now: float
) -> None:
    session.add(
        RecordingAudit(
            at=utc(now),
            action=action,
            job_id=job.id if job is not None else None,
            linkedid=job.linkedid if job is not None else None,
            actor=actor[:128],
            detail=detail,
        )
    )
