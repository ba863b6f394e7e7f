"""The report settings: the call center's time zone and its service-level thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_SERVICE_LEVEL = 20


@dataclass(frozen=True, slots=True)
class ReportConfig:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    service_level_seconds: int = DEFAULT_SERVICE_LEVEL
    queue_service_levels: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def threshold(self, queue: str | None) -> int:
        """The service-level threshold of a queue (the default for calls outside queues)."""
        if queue:
            return self.queue_service_levels.get(queue, self.service_level_seconds)
        return self.service_level_seconds

    @classmethod
    def create(
        cls, timezone: str, service_level_seconds: int, queue_service_levels: Mapping[str, int]
    ) -> ReportConfig:
        return cls(
            timezone=ZoneInfo(timezone),
            service_level_seconds=service_level_seconds,
            queue_service_levels=MappingProxyType(dict(queue_service_levels)),
        )
