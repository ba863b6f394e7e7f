"""The recordings worker: checks pending files, and converts complete ones off the event loop.

Each step (every ``poll_interval``, or at once when a call ends):

1. jobs whose owner died go back to pending; the spool is scanned now and then;
2. due pending jobs are checked in a thread (file look-ups may hit a network mount):
   a refused name fails the job, a file not found by its deadline makes it ``missing``,
   a found file must keep the same size and modification time over two checks at least
   ``poll_interval`` apart before it is taken;
3. complete files are claimed (a conditional UPDATE) and converted in a bounded thread
   pool, at most ``workers`` at a time; each conversion is one ffmpeg process on idle
   CPU priority, and numpy does the per-sample work, so the event loop (AMI, screen
   pops) never waits on audio work.

A full disk or a storage error puts the job back to pending with a growing delay, and so
does an ffmpeg timeout (a busy machine) up to three times; an unreadable file fails it
(the original is kept); a stop in the middle puts it back to pending. The source file
is deleted only after the result is stored and recorded, and only when
``keep_original`` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import stat
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kernel.task_set import TaskSet
from recordings.audio import (
    FORMATS,
    ConversionTimeout,
    Interrupted,
    ProcessRegistry,
    Tools,
    find_tools,
    transcode,
)
from recordings.config import RecordingConfig
from recordings.errors import (
    AudioError,
    FfmpegUnavailable,
    RecordingError,
    StorageError,
    StorageFull,
    UnsafePath,
)
from recordings.ingest import Ingest
from recordings.jobs import JobStore, Outcome, new_owner, utc
from recordings.models import JobStatus, RecordingJob
from recordings.paths import FoundFile, SourcePolicy
from recordings.storage import RecordingStorage, recording_key

log = logging.getLogger(__name__)

MAX_TIMEOUTS = 3  # a conversion that times out this many times fails for good


@dataclass(slots=True)
class WorkerStats:
    steps: int = 0
    checked: int = 0
    claimed: int = 0
    done: int = 0
    empty: int = 0
    failed: int = 0
    missing: int = 0
    requeued: int = 0
    reclaimed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Check:
    job: RecordingJob
    changes: dict[str, Any] | None  # None: nothing to write
    found: FoundFile | None = None  # set when the file is complete and may be taken
    note: str | None = None


class RecordingWorker:
    def __init__(
        self,
        store: JobStore,
        storage: RecordingStorage,
        policy: SourcePolicy,
        config: RecordingConfig,
        ingest: Ingest,
        *,
        clock: Callable[[], float] = time.time,
        tools: Tools | None = None,
        tools_error: str | None = None,
    ) -> None:
        self.store = store
        self.storage = storage
        self.policy = policy
        self.config = config
        self.ingest = ingest
        self.others: list[Ingest] = []  # the other PBXes' ingests (TRUBKA_PBXES)
        self.clock = clock
        self.tools = tools
        self.tools_error = tools_error
        self.owner = new_owner()
        self.pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="recordings")
        self.registry = ProcessRegistry()
        self.tasks = TaskSet("recordings")
        self.in_flight: dict[int, asyncio.Task[None]] = {}
        self.wake = asyncio.Event()
        self.settled = asyncio.Event()
        self.settled.set()
        self.progress = asyncio.Event()  # set each time a conversion ends (tests, monitoring)
        self.stats = WorkerStats()
        self.prepared = False
        self._next_scan = 0.0
        self._next_reclaim = 0.0
        self._next_tools_check = 0.0
        self._tools_logged_at = -1e18

    @property
    def enabled(self) -> bool:
        return self.tools is not None

    # --- life cycle ------------------------------------------------------------------
    async def prepare(self) -> None:
        """Resume after a restart: reclaim jobs of dead workers, remove partial files."""
        now = self.clock()
        reclaimed = await self.store.reclaim(now, live={self.owner})
        if reclaimed:
            self.stats.reclaimed += len(reclaimed)
            log.warning(
                "recordings: %d job(s) of a stopped worker resume: %s", len(reclaimed), reclaimed
            )
        try:
            removed = await asyncio.to_thread(self._clean_partials)
        except OSError as exc:
            # A storage problem must not stop Trubka from taking calls; conversions will
            # report it per job (pending, with the reason) until it is fixed.
            log.error("recordings: cannot clean %s: %s", self.storage.describe(), exc)
            removed = 0
        if removed:
            log.info("recordings: removed %d partial file(s) left by an interrupted run", removed)
        self._next_reclaim = now + self.config.lease_seconds / 2
        self.prepared = True

    def _clean_partials(self) -> int:
        removed = self.storage.recover()
        work = self.config.work_dir
        if work.is_dir():
            for leftover in work.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    if stat.S_ISREG(leftover.lstat().st_mode):
                        leftover.unlink()
                        removed += 1
        return removed

    async def run(self) -> None:
        if not self.prepared:
            await self.prepare()
        self.tasks.start(self._heartbeat(), name="recordings-lease")
        while True:
            self.wake.clear()
            await self.step()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.poll_interval):
                    await self.wake.wait()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop ffmpeg at once; the interrupted jobs return to pending for the next start."""
        killed = self.registry.stop_all()
        running = list(self.in_flight.values())
        if running:
            log.info(
                "recordings: stopping %d conversion(s) (%d ffmpeg process(es))",
                len(running),
                killed,
            )
            await asyncio.wait(running, timeout=grace)
        await self.tasks.stop(grace)
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def wait_settled(self, within: float = 30.0) -> None:
        """Wait until no conversion is running (tests, benchmarks, shutdown)."""
        async with asyncio.timeout(within):
            while self.in_flight:
                self.settled.clear()
                await self.settled.wait()

    async def _heartbeat(self) -> None:
        interval = self.config.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            if not self.in_flight:
                continue
            try:
                await self.store.renew(
                    self.owner, list(self.in_flight), self.clock() + self.config.lease_seconds
                )
            except Exception:
                log.exception(
                    "recordings: could not renew the lease of %d job(s)", len(self.in_flight)
                )

    # --- one step ----------------------------------------------------------------------
    async def step(self) -> list[Check]:
        """Check due jobs and start the complete ones; returns the checks made."""
        if not self.prepared:
            await self.prepare()
        self.stats.steps += 1
        now = self.clock()
        await self._maybe_find_tools(now)
        if now >= self._next_reclaim:
            self._next_reclaim = now + self.config.lease_seconds / 2
            back = await self.store.reclaim(now, live={self.owner})
            self.stats.reclaimed += len(back)
        if now >= self._next_scan and any(i.config.spool for i in (self.ingest, *self.others)):
            self._next_scan = now + self.config.spool_scan_interval
            for ingest in (self.ingest, *self.others):
                await ingest.scan_spool()
        due = await self.store.due(now)
        if not due:
            return []
        checks = await asyncio.to_thread(self._inspect_all, due, now)
        self.stats.checked += len(checks)
        changes: list[tuple[int, dict[str, Any]]] = []
        for check in checks:
            if check.changes is not None:
                changes.append((check.job.id, check.changes))
            status = check.changes.get("status") if check.changes else None
            if status == JobStatus.MISSING.value:
                self.stats.missing += 1
                log.warning(
                    "recordings: job %d (call %s) missing: %s",
                    check.job.id,
                    check.job.linkedid,
                    check.note,
                )
            elif status == JobStatus.FAILED.value:
                self.stats.failed += 1
                log.warning(
                    "recordings: job %d (call %s) failed: %s",
                    check.job.id,
                    check.job.linkedid,
                    check.note,
                )
        complete = [c for c in checks if c.found is not None]
        if complete and self.tools is None:
            self._log_tools_missing(now)
            later = now + self.config.tools_recheck
            changes.extend((c.job.id, {"next_check_at": utc(later)}) for c in complete)
            complete = []
        await self.store.update_many(changes, now)
        for check in complete:
            if len(self.in_flight) >= self.config.workers:
                break
            assert check.found is not None
            job = await self.store.claim(check.job.id, self.owner, now, self.config.lease_seconds)
            if job is None:
                continue
            self.stats.claimed += 1
            self.settled.clear()
            self.in_flight[job.id] = self.tasks.start(
                self._process(job, check.found), name=f"recording-{job.id}"
            )
        return checks

    def _inspect_all(self, jobs: list[RecordingJob], now: float) -> list[Check]:
        return [self._inspect(job, now) for job in jobs]

    def policy_for(self, pbx: str) -> SourcePolicy:
        """Where PBX `pbx`'s files are: its ingest's spool; the first PBX's otherwise."""
        for ingest in self.others:
            if ingest.pbx == pbx:
                return ingest.policy
        return self.policy

    def _inspect(self, job: RecordingJob, now: float) -> Check:
        config = self.config
        policy = self.policy_for(job.pbx) if self.others else self.policy
        try:
            found = policy.locate(job.source_path)
        except UnsafePath as exc:
            return Check(job, {"status": JobStatus.FAILED.value, "reason": str(exc)}, note=str(exc))
        ended = job.call_ended or job.ready_at is not None
        if job.ready_at is not None:
            deadline = job.ready_at.timestamp() + config.missing_after
        else:
            deadline = job.created_at.timestamp() + config.orphan_after + config.missing_after
        if found is None:
            if now >= deadline:
                looked = ", ".join(str(p) for p in policy.candidates(job.source_path))
                waited = now - (job.ready_at or job.created_at).timestamp()
                reason = f"file not found after {waited:.0f}s (looked at {looked})"
                return Check(
                    job, {"status": JobStatus.MISSING.value, "reason": reason}, note=reason
                )
            return Check(job, {"next_check_at": utc(min(now + config.poll_interval, deadline))})
        if not ended and found.mtime_ns / 1e9 > now - config.orphan_after:
            # The call's end was never seen (Trubka restarted mid-call): take the file
            # only once nobody has written to it for orphan_after.
            settle = found.mtime_ns / 1e9 + config.orphan_after
            return Check(job, {"next_check_at": utc(max(settle, now + config.poll_interval))})
        unchanged = (
            job.seen_size == found.size
            and job.seen_mtime_ns == found.mtime_ns
            and job.found_path == str(found.path)
            and job.seen_at is not None
            and now - job.seen_at.timestamp() >= config.poll_interval * 0.99
        )
        if unchanged:
            return Check(job, None, found=found)
        return Check(
            job,
            {
                "seen_size": found.size,
                "seen_mtime_ns": found.mtime_ns,
                "seen_at": utc(now),
                "found_path": str(found.path)[:1024],
                "next_check_at": utc(now + config.poll_interval),
                "ready_at": job.ready_at or utc(now),
            },
        )

    async def _maybe_find_tools(self, now: float) -> None:
        if self.tools is not None or now < self._next_tools_check:
            return
        self._next_tools_check = now + self.config.tools_recheck
        try:
            self.tools = await asyncio.to_thread(find_tools, self.config.format)
        except FfmpegUnavailable as exc:
            self.tools_error = str(exc)
            return
        self.tools_error = None
        log.warning("recordings: %s found, processing resumes", self.tools.version)

    def _log_tools_missing(self, now: float) -> None:
        if now - self._tools_logged_at >= 600:
            self._tools_logged_at = now
            log.error(
                "RECORDINGS ARE NOT BEING PROCESSED: %s. Calls, routing and screen pops work; "
                "recordings wait in the queue and are processed once ffmpeg is installed.",
                self.tools_error or "ffmpeg is not available",
            )

    # --- processing ----------------------------------------------------------------------
    async def _process(self, job: RecordingJob, found: FoundFile) -> None:
        loop = asyncio.get_running_loop()
        try:
            try:
                outcome = await loop.run_in_executor(self.pool, self._convert, job, found)
            except Interrupted:
                await self._requeue(
                    job, "interrupted by a shutdown; resumes at the next start", 0.0
                )
                return
            except (StorageFull, StorageError) as exc:
                delay = min(
                    self.config.retry_delay * 2 ** max(job.attempts - 1, 0),
                    self.config.retry_delay_max,
                )
                log.warning("recordings: job %d: %s; retrying in %.0fs", job.id, exc, delay)
                await self._requeue(job, f"{exc} (retried automatically)", delay)
                return
            except FfmpegUnavailable as exc:
                self.tools, self.tools_error = None, str(exc)
                self._log_tools_missing(self.clock())
                await self._requeue(job, str(exc), self.config.tools_recheck)
                return
            except ConversionTimeout as exc:
                if job.attempts >= MAX_TIMEOUTS:
                    await self._fail(job, f"{exc} ({job.attempts} attempts)")
                    return
                log.warning("recordings: job %d: %s; trying again later", job.id, exc)
                await self._requeue(job, f"{exc} (retried automatically)", self.config.retry_delay)
                return
            except (AudioError, UnsafePath) as exc:
                await self._fail(job, str(exc))
                return
            except RecordingError as exc:
                await self._fail(job, f"{type(exc).__name__}: {exc}")
                return
            except Exception as exc:
                log.exception("recordings: job %d: unexpected error", job.id)
                await self._fail(job, f"internal error: {type(exc).__name__}: {exc}")
                return
            if not await self.store.finish(job.id, self.owner, outcome, self.clock()):
                log.warning(
                    "recordings: job %d was taken over by another worker; result dropped", job.id
                )
                return
            if outcome.status is JobStatus.DONE:
                self.stats.done += 1
            else:
                self.stats.empty += 1
            log.info(
                "recordings: job %d (call %s) %s: %.1fs, %s bytes",
                job.id,
                job.linkedid,
                outcome.status.value,
                outcome.duration_seconds or 0.0,
                outcome.size_bytes,
            )
            if not self.config.keep_original:
                await asyncio.to_thread(self._remove_source, found.path, job.pbx)
        finally:
            self.in_flight.pop(job.id, None)
            if not self.in_flight:
                self.settled.set()
            self.progress.set()
            self.wake.set()

    async def _fail(self, job: RecordingJob, reason: str) -> None:
        self.stats.failed += 1
        log.warning(
            "recordings: job %d (call %s) failed, original kept: %s", job.id, job.linkedid, reason
        )
        await self.store.finish(
            job.id, self.owner, Outcome(JobStatus.FAILED, reason=reason), self.clock()
        )

    async def _requeue(self, job: RecordingJob, reason: str, delay: float) -> None:
        self.stats.requeued += 1
        now = self.clock()
        await self.store.requeue(job.id, self.owner, reason=reason, retry_at=now + delay, now=now)

    def _convert(self, job: RecordingJob, found: FoundFile) -> Outcome:
        """In a pool thread: ffmpeg, then the store. Returns what to record."""
        tools = self.tools
        if tools is None:
            raise FfmpegUnavailable(self.tools_error or "ffmpeg is not available")
        config = self.config
        spec = FORMATS[config.format]
        work = config.work_dir / f"job-{job.id}-{uuid.uuid4().hex[:8]}.{spec.extension}"
        result = transcode(
            tools,
            found.path,
            work,
            fmt=config.format,
            bitrate_kbps=config.bitrate_kbps,
            buckets=config.peaks,
            timeout=config.ffmpeg_timeout,
            registry=self.registry,
        )
        common: dict[str, Any] = {
            "original_size": found.size,
            "original_codec": result.codec[:32],
            "channels": result.channels,
            "sample_rate": result.sample_rate,
        }
        if result.empty or result.output is None:
            return Outcome(JobStatus.EMPTY, duration_seconds=0.0, **common)
        try:
            when: datetime = job.call_started_at or job.created_at
            key = recording_key(job.linkedid, job.id, when, spec.extension)
            stored = self.storage.put(key, result.output)
        finally:
            with contextlib.suppress(FileNotFoundError):
                result.output.unlink()
        return Outcome(
            JobStatus.DONE,
            format=config.format,
            bitrate_kbps=config.bitrate_kbps,
            storage_key=stored.key,
            size_bytes=stored.size,
            duration_seconds=result.duration_seconds,
            sha256=result.output_sha256,
            peaks=result.peaks,
            **common,
        )

    def _remove_source(self, path: Path, pbx: str) -> None:
        if not self.policy_for(pbx).owns(path):
            log.error("recordings: not deleting %s: outside the recordings directories", path)
            return
        try:
            if stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning(
                "recordings: could not delete the original %s: %s", path, exc.strerror or exc
            )
