"""The recordings service: ingest, worker and retention wired together, started by the app.

When ffmpeg is missing at start-up, Trubka still starts (calls, routing and screen pops
matter more than recordings): the error is logged loudly and repeated every ten minutes,
the jobs keep queuing (nothing is lost), ffmpeg is looked for again every few minutes
and processing resumes by itself once it is installed. ``trubka recordings status``
exits non-zero while ffmpeg is missing, for monitoring.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any

from crm.database import Database
from kernel.bus import Subscription
from kernel.call_record import DEFAULT_PBX
from kernel.task_set import TaskSet
from recordings.audio import FORMATS, MEDIA_TYPES, find_tools
from recordings.config import RecordingConfig
from recordings.errors import FfmpegUnavailable
from recordings.ingest import Ingest
from recordings.jobs import JobStore
from recordings.models import JobStatus, RecordingJob
from recordings.paths import SourcePolicy
from recordings.retention import PurgeReport, RetentionPolicy, purge, purge_daily
from recordings.storage import LocalStorage, RecordingStorage, safe_name
from recordings.worker import RecordingWorker
from telephony.domain import DomainEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A stored recording ready to stream (round two mounts it at /api/calls/<id>/recording)."""

    key: str
    media_type: str
    size: int | None
    sha256: str | None
    filename: str


def download_name(job: RecordingJob, extension: str) -> str:
    """``call-2026-11-26_1829-1795717766.0.mp3``: the call's UTC start and its linkedid,
    made file-name safe; never a name the PBX or a user chose."""
    when = job.call_started_at or job.created_at
    stamp = when.astimezone(UTC).strftime("%Y-%m-%d_%H%M")
    return f"call-{stamp}-{safe_name(job.linkedid or str(job.id))}.{safe_name(extension, 8)}"


class RecordingService:
    def __init__(
        self,
        db: Database,
        config: RecordingConfig,
        *,
        storage: RecordingStorage | None = None,
        subscription: Subscription[DomainEvent] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.store = JobStore(db)
        self.storage: RecordingStorage = storage or LocalStorage(config.storage_dir)
        self.policy = SourcePolicy(config.pbx_dir, config.spool)
        self.retention = RetentionPolicy(config.retention_days, dict(config.retention_queues))
        self.subscription = subscription
        self.ingest = Ingest(self.store, self.policy, config, clock=clock, on_ready=self._wake)
        self.worker = RecordingWorker(
            self.store, self.storage, self.policy, config, self.ingest, clock=clock
        )
        self.started = False

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        db: Database,
        subscription: Subscription[DomainEvent] | None = None,
        *,
        pbx: str = DEFAULT_PBX,
        spool: Path | None = None,
    ) -> RecordingService:
        """`subscription`: the bus events the ingest consumes (`recordings.ingest.KINDS`);
        `pbx`: the name of the PBX whose events those are (its jobs carry it); `spool`:
        its recordings spool, when its TRUBKA_PBXES entry names one (else
        TRUBKA_RECORDINGS_SPOOL)."""
        overrides = {"spool": spool} if spool is not None else {}
        config = RecordingConfig.from_settings(settings, **overrides)
        service = cls(db, config, subscription=subscription)
        service.ingest.pbx = pbx
        return service

    def _wake(self) -> None:
        self.worker.wake.set()

    def add_pbx(self, name: str, spool: Path | None) -> Ingest:
        """Another PBX's recordings (TRUBKA_PBXES): an ingest of its own, stamping its
        jobs with `name` and reading its files from `spool`; the worker finds them there.
        Its events come from that PBX's bus (`Ingest.consume`, started by the caller)."""
        config = replace(self.config, spool=spool)
        ingest = Ingest(
            self.store,
            SourcePolicy(config.pbx_dir, spool),
            config,
            clock=self.clock,
            on_ready=self._wake,
            pbx=name,
        )
        self.worker.others.append(ingest)
        return ingest

    async def check_tools(self) -> bool:
        try:
            self.worker.tools = await asyncio.to_thread(find_tools, self.config.format)
            self.worker.tools_error = None
        except FfmpegUnavailable as exc:
            self.worker.tools, self.worker.tools_error = None, str(exc)
            log.error(
                "RECORDINGS ARE NOT BEING PROCESSED: %s. Trubka runs on; recordings wait in the "
                "queue and are processed once ffmpeg is installed (checked every %.0fs).",
                exc,
                self.config.tools_recheck,
            )
            return False
        log.info(
            "recordings: %s; %s at %d kbit/s into %s; spool %s",
            self.worker.tools.version,
            self.config.format,
            self.config.bitrate_kbps,
            self.storage.describe(),
            self.config.spool or "(none)",
        )
        return True

    async def start(self, tasks: TaskSet, *, ingest: bool = True, work: bool = True) -> None:
        """The ingest of the PBX's events (`ingest`) and the transcoding worker and daily
        purge (`work`): a node's roles may run either."""
        await self.check_tools()
        if work:
            await self.worker.prepare()
        if self.subscription is not None and ingest:
            tasks.start(self.ingest.consume(self.subscription), name="recordings-ingest")
        if work:
            tasks.start(self.worker.run(), name="recordings-worker")
            tasks.start(
                purge_daily(self.purge, self.config.purge_interval, self.config.purge_first_delay),
                name="recordings-purge",
            )
        self.started = True

    async def stop(self, grace: float = 10.0) -> None:
        await self.worker.stop(grace)

    async def purge(self, *, dry_run: bool = False, actor: str = "system") -> PurgeReport:
        return await purge(
            self.store,
            self.storage,
            self.retention,
            self.clock(),
            source_policy=replace(
                self.policy,
                others=tuple(i.config.spool for i in self.worker.others if i.config.spool),
            ),
            delete_sources=not self.config.keep_original,
            dry_run=dry_run,
            actor=actor,
        )

    def media(self, job: RecordingJob) -> MediaRef | None:
        """How to stream a job's recording, or None when there is nothing to play."""
        if job.status != JobStatus.DONE.value or not job.storage_key or not job.format:
            return None
        extension = FORMATS[job.format].extension if job.format in FORMATS else job.format
        return MediaRef(
            key=job.storage_key,
            media_type=MEDIA_TYPES.get(job.format, "application/octet-stream"),
            size=job.size_bytes,
            sha256=job.sha256,
            filename=download_name(job, extension),
        )

    def status(self) -> dict[str, Any]:
        worker = self.worker
        return {
            "enabled": worker.enabled,
            "error": worker.tools_error,
            "ffmpeg": worker.tools.version if worker.tools else None,
            "storage": self.storage.describe(),
            "spool": str(self.config.spool) if self.config.spool else None,
            "pbx_dir": str(self.config.pbx_dir),
            "format": self.config.format,
            "bitrate_kbps": self.config.bitrate_kbps,
            "in_flight": len(worker.in_flight),
            "retention": self.retention.describe(),
        }
