"""The recordings settings as plain values (built from `trubka.settings.Settings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordingConfig:
    storage_dir: Path
    pbx_dir: Path = Path("/var/spool/asterisk/monitor")
    spool: Path | None = None
    format: str = "mp3"
    bitrate_kbps: int = 32
    keep_original: bool = False
    missing_after: float = 300.0  # seconds after the call ended
    orphan_after: float = 3600.0  # seconds: a recording whose call end was never seen
    poll_interval: float = 2.0  # seconds between checks of a file (size stability)
    workers: int = 2
    peaks: int = 500
    ffmpeg_timeout: float = 900.0
    retention_days: int = 0  # 0: keep forever
    retention_queues: dict[str, int] = field(default_factory=dict)
    lease_seconds: float = 120.0
    retry_delay: float = 60.0  # first retry after a full disk or a storage error
    retry_delay_max: float = 3600.0
    spool_scan_interval: float = 60.0
    purge_interval: float = 86400.0
    purge_first_delay: float = 60.0
    tools_recheck: float = 300.0  # seconds between looks for ffmpeg while it is missing

    @property
    def work_dir(self) -> Path:
        return self.storage_dir / ".work"

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> RecordingConfig:
        values: dict[str, Any] = {
            "storage_dir": Path(settings.recordings_dir),
            "pbx_dir": Path(settings.recordings_pbx_dir),
            "spool": Path(settings.recordings_spool) if settings.recordings_spool else None,
            "format": settings.recordings_format,
            "bitrate_kbps": settings.recordings_bitrate,
            "keep_original": settings.recordings_keep_original,
            "missing_after": settings.recordings_missing_after,
            "orphan_after": settings.recordings_orphan_after,
            "poll_interval": settings.recordings_poll_interval,
            "workers": settings.recordings_workers,
            "peaks": settings.recordings_peaks,
            "ffmpeg_timeout": settings.recordings_ffmpeg_timeout,
            "retention_days": settings.recordings_retention_days,
            "retention_queues": dict(settings.recordings_retention_queues),
        }
        values.update(overrides)
        return cls(**values)
