"""Learning about recordings: domain events from the bus, and files found in the spool.

- ``RecordingStarted`` creates the call's job (pending, not yet ready: the file is still
  being written). A file name that is refused (``..``, outside the recordings
  directories) makes the job ``failed`` at once, with the reason.
- ``RecordingStopped`` is noted; ``CallEnded`` (and ``CallBackfilled``, a call rebuilt from
  Asterisk's books after an outage) makes every job of the call ready (Asterisk
  closes MixMonitor files at hangup) and records the queue and start time the retention
  policy and the storage folders use. A call record that names a recording no start
  event announced (Trubka started mid-call) gets its job here too.
- The spool scan adopts audio files no job knows that are older than ``orphan_after``
  (Trubka was down during the call): they are linked to a stored call when one names
  them, and processed either way so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_records import CallRow
from crm.claims import insert_ignoring, serialize
from kernel.bus import Subscription
from kernel.call_record import DEFAULT_PBX
from recordings.config import RecordingConfig
from recordings.errors import UnsafePath
from recordings.jobs import JobStore, audit, utc
from recordings.models import JobStatus, RecordingJob
from recordings.paths import SourcePolicy, is_audio_name
from telephony.domain import (
    CallBackfilled,
    CallEnded,
    DomainEvent,
    RecordingStarted,
    RecordingStopped,
)

log = logging.getLogger(__name__)

KINDS = (RecordingStarted, RecordingStopped, CallEnded, CallBackfilled)
SCAN_LIMIT = 5000  # files looked at per spool scan
SCAN_DEPTH = 4


@dataclass(frozen=True, slots=True)
class SpoolFile:
    path: Path
    name: str
    mtime: float


class Ingest:
    def __init__(
        self,
        store: JobStore,
        policy: SourcePolicy,
        config: RecordingConfig,
        *,
        clock: Callable[[], float],
        on_ready: Callable[[], None] = lambda: None,
        pbx: str = DEFAULT_PBX,
    ) -> None:
        self.store = store
        self.pbx = pbx  # the Asterisk whose events and spool this ingest reads
        self.policy = policy
        self.config = config
        self.clock = clock
        self.on_ready = on_ready
        # Queues whose recordings are on legal hold from the start (admin settings).
        self.hold_queues: set[str] = set()
        self.lock = asyncio.Lock()
        self.jobs_created = 0
        self.idle = asyncio.Event()
        self.idle.set()
        self._progress = asyncio.Event()

    async def consume(
        self, subscription: Subscription[DomainEvent], batch: int = 200, linger: float = 0.2
    ) -> None:
        """Apply bus events forever, in batches (one transaction each); a batch waits
        `linger` seconds for the events coming meanwhile."""
        while True:
            self.idle.set()
            first = await subscription.get()
            self.idle.clear()
            if linger > 0 and subscription.queue.qsize() < batch - 1:
                await asyncio.sleep(linger)
            events = subscription.get_batch(first, batch)
            delay = 1.0
            while True:
                try:
                    await self.apply(events)
                    break
                except (SQLAlchemyError, OSError) as exc:
                    # The bus keeps events coming meanwhile (bounded: if it overflows, the
                    # spool scan still adopts those recordings after orphan_after).
                    log.error(
                        "recordings: job queue unavailable, retrying in %.0fs: %s", delay, exc
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            self._progress.set()

    async def drain(self, subscription: Subscription[DomainEvent], within: float = 10.0) -> None:
        """Wait until every event queued for `subscription` so far is applied."""
        async with asyncio.timeout(within):
            while not subscription.queue.empty() or not self.idle.is_set():
                self._progress.clear()
                await self._progress.wait()

    async def apply(self, events: Sequence[DomainEvent]) -> None:
        relevant = [e for e in events if isinstance(e, KINDS)]
        if not relevant:
            return
        now = self.clock()
        ready = False
        async with self.lock, self.store.db.transaction() as session:
            cache: dict[tuple[str, str, str], RecordingJob] = {}
            ended = await self._jobs_of_calls(session, relevant)
            for event in relevant:
                if isinstance(event, RecordingStarted):
                    await self._job(session, cache, event.linkedid, self.pbx, event.file, now)
                elif isinstance(event, RecordingStopped):
                    job = await self._job(session, cache, event.linkedid, self.pbx, event.file, now)
                    job.recording_stopped = True
                elif isinstance(event, CallEnded | CallBackfilled):
                    ready |= await self._call_ended(session, cache, ended, event, now)
        if ready:
            self.on_ready()

    @staticmethod
    async def _jobs_of_calls(
        session: AsyncSession, events: Sequence[DomainEvent]
    ) -> dict[tuple[str, str], list[RecordingJob]]:
        """The jobs stored before this batch for the calls that end in it, by (linkedid,
        PBX): one statement per batch instead of one per call ended."""
        calls = {
            (e.record.linkedid, e.record.pbx)
            for e in events
            if isinstance(e, CallEnded | CallBackfilled)
        }
        found: dict[tuple[str, str], list[RecordingJob]] = {call: [] for call in calls}
        if not calls:
            return found
        rows = await session.scalars(
            select(RecordingJob).where(RecordingJob.linkedid.in_({c[0] for c in calls}))
        )
        for job in rows.all():
            jobs = found.get((job.linkedid, job.pbx)) if job.linkedid is not None else None
            if jobs is not None:
                jobs.append(job)
        return found

    async def _call_ended(
        self,
        session: AsyncSession,
        cache: dict[tuple[str, str, str], RecordingJob],
        ended: dict[tuple[str, str], list[RecordingJob]],
        event: CallEnded | CallBackfilled,
        now: float,
    ) -> bool:
        record = event.record
        if record.recording_file:
            await self._job(session, cache, record.linkedid, record.pbx, record.recording_file, now)
        # the call's jobs: stored before the batch, or found or created in it (`cache`)
        jobs = {job.id: job for job in ended.get((record.linkedid, record.pbx), ())}
        for job in cache.values():
            if job.linkedid == record.linkedid and job.pbx == record.pbx:
                jobs.setdefault(job.id, job)
        ready = False
        for job in jobs.values():
            job.queue = (record.queue or "")[:80] or None
            if job.queue in self.hold_queues and not job.legal_hold and job.purged_at is None:
                job.legal_hold = True  # the queue's default (/admin/settings)
                job.hold_reason = f"legal hold by default for queue {job.queue}"
                audit(session, "hold", job, "policy", job.hold_reason, now)
            job.call_started_at = utc(record.started_at)
            job.updated_at = utc(now)
            if job.call_ended:
                continue
            job.call_ended = True
            if job.status == JobStatus.PENDING.value:
                job.ready_at = utc(now)
                job.next_check_at = utc(now)
                ready = True
        return ready

    async def _job(
        self,
        session: AsyncSession,
        cache: dict[tuple[str, str, str], RecordingJob],
        linkedid: str,
        pbx: str,
        file: str,
        now: float,
    ) -> RecordingJob:
        linkedid = linkedid[:64]
        source = file[:1024]
        key = (linkedid, pbx, source)
        job = cache.get(key)
        if job is not None:
            return job
        same = (
            RecordingJob.linkedid == linkedid,
            RecordingJob.pbx == pbx,
            RecordingJob.source_path == source,
        )
        job = await session.scalar(select(RecordingJob).where(*same))
        if job is None:
            # another node may store the same job at this moment: one row, no error
            fresh = self._new_job(linkedid, source, now, ready=False)
            fresh.pbx = pbx
            values = {
                attr.key: getattr(fresh, attr.key)
                for attr in sa_inspect(RecordingJob).column_attrs
                if attr.key != "id" and getattr(fresh, attr.key) is not None
            }
            insert = insert_ignoring(
                self.store.db.dialect, RecordingJob, ["linkedid", "pbx", "source_path"]
            )
            created = await session.scalar(insert.values(**values).returning(RecordingJob.id))
            stored: RecordingJob | None = await session.scalar(select(RecordingJob).where(*same))
            assert stored is not None  # inserted now, or by the other node before
            job = stored
            if created is not None:
                self.jobs_created += 1
                if job.status == JobStatus.FAILED.value:
                    log.warning("recordings: call %s: %s", linkedid, job.reason)
        cache[key] = job
        return job

    def _new_job(
        self, linkedid: str | None, source: str, now: float, *, ready: bool
    ) -> RecordingJob:
        status, reason = JobStatus.PENDING, None
        try:
            self.policy.check(source)
        except UnsafePath as exc:
            status, reason = JobStatus.FAILED, str(exc)
        name = PurePosixPath(source).name[:255] or "-"
        wait = 0.0 if ready else self.config.orphan_after
        return RecordingJob(
            linkedid=linkedid,
            pbx=self.pbx,
            source_path=source,
            source_name=name,
            status=status.value,
            reason=reason,
            attempts=0,
            call_ended=ready,
            recording_stopped=ready,
            ready_at=utc(now) if ready else None,
            next_check_at=utc(now + wait),
            legal_hold=False,
            created_at=utc(now),
            updated_at=utc(now),
        )

    # --- the spool ---------------------------------------------------------------------
    async def scan_spool(self) -> int:
        """Adopt old audio files in the spool that no job knows; returns how many."""
        spool = self.config.spool
        if spool is None:
            return 0
        now = self.clock()
        files = await asyncio.to_thread(list_spool, spool, now - self.config.orphan_after)
        if not files:
            return 0
        async with self.lock:
            known = await self.store.known_names([f.name for f in files], self.pbx)
            fresh = [f for f in files if f.name not in known]
            if not fresh:
                return 0
            async with self.store.db.transaction() as session:
                # nodes sharing the spool adopt each file once: one scan at a time, and
                # what another node adopted meanwhile is known now
                await serialize(session, "recordings-spool-scan")
                names = [f.name for f in fresh]
                taken: set[str] = set()
                for start in range(0, len(names), 500):
                    adopted = await session.scalars(
                        select(RecordingJob.source_name).where(
                            RecordingJob.source_name.in_(names[start : start + 500]),
                            RecordingJob.pbx == self.pbx,
                        )
                    )
                    taken.update(adopted.all())
                fresh = [f for f in fresh if f.name not in taken]
                for found in fresh:
                    call = await _call_naming(session, found.name, self.pbx)
                    job = self._new_job(
                        call.linkedid if call else None, str(found.path), now, ready=True
                    )
                    if call is not None:
                        job.queue = call.queue
                        job.call_started_at = call.started_at
                    job.reason = None if job.status == JobStatus.PENDING.value else job.reason
                    session.add(job)
            self.jobs_created += len(fresh)
        if not fresh:
            return 0
        log.info(
            "recordings: adopted %d file(s) from the spool %s that no call event named",
            len(fresh),
            spool,
        )
        self.on_ready()
        return len(fresh)


async def _call_naming(session: AsyncSession, name: str, pbx: str) -> CallRow | None:
    """The stored call of PBX `pbx` whose recording_file is `name` or ends with `/name`."""
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (
        select(CallRow)
        .where(
            CallRow.pbx == pbx,
            or_(
                CallRow.recording_file == name,
                CallRow.recording_file.like(f"%/{escaped}", escape="\\"),
            ),
        )
        .order_by(CallRow.started_at.desc())
        .limit(1)
    )
    row: CallRow | None = await session.scalar(query)
    return row


def list_spool(spool: Path, older_than: float) -> list[SpoolFile]:
    """Audio files under `spool` (a few folder levels deep) last changed before `older_than`."""
    found: list[SpoolFile] = []
    root_depth = len(spool.parts)
    try:
        walker = os.walk(spool)
        for folder, dirs, names in walker:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            if len(Path(folder).parts) - root_depth >= SCAN_DEPTH:
                dirs[:] = []
            for name in names:
                if not is_audio_name(name):
                    continue
                path = Path(folder) / name
                try:
                    info = path.lstat()
                except FileNotFoundError:
                    continue
                if info.st_mtime < older_than and path.is_file() and not path.is_symlink():
                    found.append(SpoolFile(path, name, info.st_mtime))
                    if len(found) >= SCAN_LIMIT:
                        return found
    except OSError as exc:
        log.error("recordings: cannot read the spool %s: %s", spool, exc)
    return found
