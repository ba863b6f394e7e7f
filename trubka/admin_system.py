"""What a support person asks for first, for `/admin/system` and `GET /api/admin/system`.

The AMI link (state, last event, Asterisk's version), the FastAGI server (listening,
sessions), the recordings (storage, free space, jobs by status; failed and missing jobs
re-queued on request), the backups in ``TRUBKA_BACKUP_DIR`` (the newest one; a new one
taken with the engine of ``trubka backup``), the database (dialect, migration revision
and the newest one this Trubka knows) and the version of Trubka. Backups and retries are
audited.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from crm.database import head_revision
from kernel.errors import DomainError
from recordings.models import JobStatus
from supervisor.audit import Actor, AuditAction, AuditEntry, Outcome
from trubka.backup import MANIFEST, BackupError
from trubka.backup import backup as take_backup

if TYPE_CHECKING:
    from collections.abc import Callable

    from crm.database import Database
    from recordings.service import RecordingService
    from supervisor.audit import AuditLog
    from telephony.agi_server import AgiServer
    from telephony.ami_client import AmiClient
    from telephony.router import CallRouter
    from trubka.settings import Settings

RETRYABLE = (JobStatus.FAILED, JobStatus.MISSING)


class BackupNotTaken(DomainError):
    """A backup asked from the browser that could not be taken; the message says why."""

    code = "action_failed"

    def __init__(self, message: str) -> None:
        super().__init__("backup_failed", message)


def trubka_version() -> str:
    try:
        return metadata.version("trubka")
    except metadata.PackageNotFoundError:
        return "unknown"


class SystemAdmin:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        ami: Callable[[], AmiClient | None],
        agi: AgiServer,
        router: CallRouter,
        recordings: RecordingService,
        audit: AuditLog,
    ) -> None:
        self.settings = settings
        self.db = db
        self.ami = ami
        self.agi = agi
        self.router = router
        self.recordings = recordings
        self.audit = audit
        self._backup_lock = asyncio.Lock()

    @property
    def backup_dir(self) -> Path | None:
        return self.settings.backup_dir

    async def info(self) -> dict[str, Any]:
        return {
            "version": trubka_version(),
            "ami": self._ami(),
            "agi": self._agi(),
            "recordings": await self._recordings(),
            "backups": await asyncio.to_thread(self._backups),
            "database": await self._database(),
        }

    def _ami(self) -> dict[str, Any] | None:
        client = self.ami()
        if client is None:
            return None
        status = client.status_json()
        return {
            "state": status["state"],
            "host": status["host"],
            "since": status["since"],
            "asterisk_version": status["asterisk_version"],
            "last_error": status["last_error"],
            "reconnects": status["reconnects"],
            "events": status["events_published"],
            "last_event_at": client.status.last_event_at,
        }

    def _agi(self) -> dict[str, Any]:
        settings = self.settings
        agi = self.agi
        try:
            port: int | None = agi.bound_port
        except RuntimeError:
            port = None
        return {
            "enabled": settings.agi_enabled,
            "listening": port is not None,
            "address": f"{settings.agi_host}:{port or settings.agi_port}",
            "active": agi.stats.active,
            "sessions": sum(agi.stats.outcomes.values()),
            "decisions": sum(self.router.stats.decisions.values()),
            "facts_timeouts": self.router.stats.facts_timeouts,
        }

    async def _recordings(self) -> dict[str, Any]:
        recordings = self.recordings
        counts = await recordings.store.counts()
        root = Path(recordings.config.storage_dir)
        free = total = None
        probe = root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            usage = await asyncio.to_thread(shutil.disk_usage, probe)
            free, total = usage.free, usage.total
        except OSError:
            pass
        return {
            "storage": recordings.storage.describe(),
            "free_bytes": free,
            "total_bytes": total,
            "jobs": counts,
            "retryable": sum(counts.get(s.value, 0) for s in RETRYABLE),
            "worker": recordings.worker.enabled,
            "error": recordings.worker.tools_error,
            "retention_default": recordings.retention.default_days,  # days, 0: forever
            "retention_queues": dict(recordings.retention.queues),
        }

    def _backups(self) -> dict[str, Any]:
        folder = self.backup_dir
        if folder is None:
            return {"configured": False, "folder": None, "last": None, "count": 0}
        found = []
        if folder.is_dir():
            for manifest in folder.glob(f"*/{MANIFEST}"):
                try:
                    data = json.loads(manifest.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                found.append((str(data.get("created_at", "")), manifest.parent, data))
        found.sort(key=lambda item: item[0])
        last = None
        if found:
            created, path, data = found[-1]
            last = {
                "folder": str(path),
                "created_at": created,
                "database_bytes": data.get("database", {}).get("bytes"),
                "recordings": data.get("recordings", {}).get("files"),
            }
        return {"configured": True, "folder": str(folder), "last": last, "count": len(found)}

    async def _database(self) -> dict[str, Any]:
        db = self.db
        try:
            async with db.engine.connect() as conn:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            revisions = sorted(str(row[0]) for row in rows)
        except Exception:
            revisions = []
        head = head_revision()
        return {
            "dialect": db.dialect,
            "revision": ", ".join(revisions) or None,
            "head": head,
            "up_to_date": revisions == [head],
        }

    async def backup(self, actor: Actor) -> dict[str, Any]:
        """A new backup folder in TRUBKA_BACKUP_DIR (one at a time)."""
        folder = self.backup_dir
        if folder is None:
            raise BackupNotTaken("set TRUBKA_BACKUP_DIR to take backups from the browser")
        settings = self.settings
        async with self._backup_lock:
            name = "trubka-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            target = folder / name
            entry = AuditEntry(
                AuditAction.ADMIN_SETTING, actor, reason="backup", detail=str(target)
            )
            try:
                summary = await asyncio.to_thread(
                    take_backup, settings.database_url, settings.recordings_dir, target
                )
            except (BackupError, OSError) as exc:
                entry.outcome = Outcome.FAILED
                entry.detail = f"{target}: {exc}"[:500]
                await self.audit.record(entry)
                raise BackupNotTaken(str(exc)) from exc
            await self.audit.record(entry)
        return {"folder": str(summary.folder), "manifest": summary.manifest}

    async def retry_recordings(self, actor: Actor) -> list[int]:
        """Re-queue the failed and missing recording jobs."""
        recordings = self.recordings
        ids = await recordings.store.retry(RETRYABLE, time.time(), actor=actor.login)
        recordings.worker.wake.set()
        await self.audit.record(
            AuditEntry(
                AuditAction.ADMIN_SETTING,
                actor,
                reason="recordings_retry",
                detail=f"{len(ids)} job(s) re-queued",
            )
        )
        return ids
