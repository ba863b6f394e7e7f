"""Tables: ``recording_jobs`` (the persistent queue and what processing found) and
``recording_audit`` (purges, legal holds, retries, plays and downloads)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, UTCDateTime
from kernel.call_record import DEFAULT_PBX


class JobStatus(StrEnum):
    PENDING = "pending"  # waiting for the call to end, the file to appear or settle, or a retry
    PROCESSING = "processing"  # a worker has it (see owner / lease_until)
    DONE = "done"  # converted and stored
    EMPTY = "empty"  # a valid file with no audio (a call never bridged): nothing to store
    MISSING = "missing"  # the file never appeared within the configured wait
    FAILED = "failed"  # refused or unreadable; `reason` says why, the original is kept
    PURGED = "purged"  # removed by the retention policy


FINISHED = frozenset({JobStatus.DONE, JobStatus.EMPTY, JobStatus.MISSING, JobStatus.FAILED})


class RecordingJob(Base):
    __tablename__ = "recording_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    linkedid: Mapped[str | None] = mapped_column(String(64))
    # the Asterisk the call was on (TRUBKA_PBXES): a job belongs to the call (linkedid, pbx)
    pbx: Mapped[str] = mapped_column(String(64), default=DEFAULT_PBX, server_default=DEFAULT_PBX)
    source_path: Mapped[str] = mapped_column(String(1024))  # as the PBX named it
    source_name: Mapped[str] = mapped_column(String(255))  # its base name, for spool look-ups
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queue: Mapped[str | None] = mapped_column(String(80))
    call_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    call_ended: Mapped[bool] = mapped_column(Boolean, default=False)
    recording_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    ready_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime()
    )  # when the file should be complete
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seen_size: Mapped[int | None] = mapped_column(BigInteger)
    seen_mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    found_path: Mapped[str | None] = mapped_column(String(1024))
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    format: Mapped[str | None] = mapped_column(String(8))
    bitrate_kbps: Mapped[int | None] = mapped_column(Integer)
    storage_key: Mapped[str | None] = mapped_column(String(512))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    original_size: Mapped[int | None] = mapped_column(BigInteger)
    original_codec: Mapped[str | None] = mapped_column(String(32))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[int | None] = mapped_column(Integer)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    peaks: Mapped[list[list[float]] | None] = mapped_column(JSON)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint(
            "linkedid", "pbx", "source_path", name="uq_recording_jobs_linkedid_pbx_source"
        ),
        Index("ix_recording_jobs_status_next_check_at", "status", "next_check_at"),
        Index("ix_recording_jobs_linkedid", "linkedid"),
        Index("ix_recording_jobs_source_name", "source_name"),
        Index("ix_recording_jobs_created_at", "created_at"),
    )

    def describe(self) -> dict[str, Any]:
        """Everything about the job, for `trubka recordings list --json` and the admin."""
        return {
            "id": self.id,
            "linkedid": self.linkedid,
            "pbx": self.pbx,
            "status": self.status,
            "reason": self.reason,
            "attempts": self.attempts,
            "source_path": self.source_path,
            "found_path": self.found_path,
            "queue": self.queue,
            "format": self.format,
            "duration_seconds": self.duration_seconds,
            "size_bytes": self.size_bytes,
            "channels": self.channels,
            "sha256": self.sha256,
            "storage_key": self.storage_key,
            "legal_hold": self.legal_hold,
            "hold_reason": self.hold_reason,
            "created_at": _iso(self.created_at),
            "processed_at": _iso(self.processed_at),
            "purged_at": _iso(self.purged_at),
        }


class RecordingAudit(Base):
    __tablename__ = "recording_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(32))  # purged hold release retried played downloaded
    job_id: Mapped[int | None] = mapped_column(Integer)
    linkedid: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))  # "system", "cli", a user's login
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_recording_audit_at", "at"),
        Index("ix_recording_audit_job_id", "job_id"),
    )

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "action": self.action,
            "job_id": self.job_id,
            "linkedid": self.linkedid,
            "actor": self.actor,
            "detail": self.detail,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value is not None else None
