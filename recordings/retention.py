"""Retention: how long recordings are kept, the daily purge, legal holds.

The policy is a number of days per queue with a default (0 keeps recordings forever),
counted from the call's start. The purge deletes the stored recording of every finished
job past its policy, unless it is on legal hold; when Trubka manages the spool
(``keep_original`` off) it also deletes originals it kept because they could not be
processed. Each purged recording is logged and written to ``recording_audit``; the job
stays, with status ``purged``, its checksum and duration, so the call's history shows
that a recording existed and when it was removed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import and_, or_, select

from recordings.errors import StorageError
from recordings.jobs import JobStore, audit, utc
from recordings.models import JobStatus, RecordingJob
from recordings.paths import SourcePolicy
from recordings.storage import RecordingStorage

log = logging.getLogger(__name__)

PURGEABLE = (JobStatus.DONE, JobStatus.EMPTY, JobStatus.FAILED, JobStatus.MISSING)
_BATCH = 200


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    default_days: int = 0
    queues: dict[str, int] = field(default_factory=dict)

    def days_for(self, queue: str | None) -> int:
        if queue is not None and queue in self.queues:
            return self.queues[queue]
        return self.default_days

    @property
    def shortest(self) -> int | None:
        """The shortest non-zero retention in days, or None when everything is kept."""
        days = [d for d in (self.default_days, *self.queues.values()) if d > 0]
        return min(days) if days else None

    def describe(self) -> str:
        parts = [f"default {self.default_days or 'forever'}"]
        parts += [f"{queue} {days or 'forever'}" for queue, days in sorted(self.queues.items())]
        return ", ".join(parts)


@dataclass(slots=True)
class PurgeReport:
    purged: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # past retention but on legal hold
    errors: dict[int, str] = field(default_factory=dict)
    freed_bytes: int = 0
    dry_run: bool = False


async def purge(
    store: JobStore,
    storage: RecordingStorage,
    policy: RetentionPolicy,
    now: float,
    *,
    source_policy: SourcePolicy | None = None,
    delete_sources: bool = False,
    dry_run: bool = False,
    actor: str = "system",
) -> PurgeReport:
    """Purge what the policy says is past its time; returns what was (or would be) purged."""
    report = PurgeReport(dry_run=dry_run)
    shortest = policy.shortest
    if shortest is None:
        return report
    cutoff = utc(now) - timedelta(days=shortest)
    after_id = 0
    while True:
        query = (
            select(RecordingJob)
            .where(
                RecordingJob.id > after_id,
                RecordingJob.status.in_([s.value for s in PURGEABLE]),
                RecordingJob.purged_at.is_(None),
                or_(
                    RecordingJob.call_started_at < cutoff,
                    and_(RecordingJob.call_started_at.is_(None), RecordingJob.created_at < cutoff),
                ),
            )
            .order_by(RecordingJob.id)
            .limit(_BATCH)
        )
        async with store.db.session() as session:
            jobs = list((await session.scalars(query)).all())
        if not jobs:
            break
        after_id = jobs[-1].id
        for job in jobs:
            days = policy.days_for(job.queue)
            started = job.call_started_at or job.created_at
            if days <= 0 or started >= utc(now) - timedelta(days=days):
                continue
            if job.legal_hold:
                report.held.append(job.id)
                continue
            if dry_run:
                report.purged.append(job.id)
                report.freed_bytes += job.size_bytes or 0
                continue
            await _purge_one(
                store, storage, job, days, now, report, source_policy, delete_sources, actor
            )
    if report.purged or report.held or report.errors:
        log.info(
            "recordings: purge%s: %d recording(s) %s (%d bytes), %d kept on legal hold, "
            "%d error(s); policy: %s",
            " (dry run)" if dry_run else "",
            len(report.purged),
            "would be removed" if dry_run else "removed",
            report.freed_bytes,
            len(report.held),
            len(report.errors),
            policy.describe(),
        )
    return report


async def _purge_one(
    store: JobStore,
    storage: RecordingStorage,
    job: RecordingJob,
    days: int,
    now: float,
    report: PurgeReport,
    source_policy: SourcePolicy | None,
    delete_sources: bool,
    actor: str,
) -> None:
    removed: list[str] = []
    try:
        key = job.storage_key
        if key is not None:
            deleted: bool = await asyncio.to_thread(storage.delete, key)
            if deleted:
                removed.append(key)
        source = job.found_path
        failed = job.status == JobStatus.FAILED.value
        if delete_sources and failed and source_policy is not None and source is not None:
            gone: bool = await asyncio.to_thread(_delete_source, source_policy, Path(source))
            if gone:
                removed.append(source)
    except StorageError as exc:
        report.errors[job.id] = str(exc)
        log.error(
            "recordings: purge of job %d failed (tried again at the next purge): %s", job.id, exc
        )
        return
    async with store.db.transaction() as session:
        # FOR UPDATE: another node purging the same job waits, then finds it purged
        fresh = await session.get(
            RecordingJob, job.id, populate_existing=True, with_for_update=True
        )
        if fresh is None or fresh.legal_hold or fresh.purged_at is not None:
            return
        detail = (
            f"queue {job.queue or '-'}, retention {days} days, call of "
            f"{(job.call_started_at or job.created_at):%Y-%m-%d}; "
            f"was {job.status}; removed {', '.join(removed) or 'nothing (no file stored)'}"
        )
        fresh.status = JobStatus.PURGED.value
        fresh.storage_key = None
        fresh.peaks = None
        fresh.purged_at = utc(now)
        fresh.updated_at = utc(now)
        audit(session, "purged", fresh, actor, detail, now)
    report.purged.append(job.id)
    report.freed_bytes += job.size_bytes or 0
    log.info("recordings: purged job %d (call %s): %s", job.id, job.linkedid, detail)


def _delete_source(policy: SourcePolicy, path: Path) -> bool:
    if not policy.owns(path):
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StorageError(f"deleting the original {path}: {exc.strerror or exc}") from exc
    return True


async def purge_daily(
    run_once: Callable[[], Awaitable[object]], interval: float, first_delay: float
) -> None:
    """Run `run_once` after `first_delay`, then every `interval` (a day) for ever."""
    await asyncio.sleep(first_delay)
    while True:
        try:
            await run_once()
        except Exception:
            log.exception("recordings: the retention purge failed; trying again in %.0fs", interval)
        await asyncio.sleep(interval)
