"""The report settings: the call center's time zone and its service-level thresholds.

A queue's threshold comes, in this order, from `TRUBKA_QUEUE_SERVICE_LEVELS` (source
`"setting"`), from Asterisk's `queues.conf` `servicelevel` as AMI `QueueParams` reports it
(`"asterisk"`), or from `TRUBKA_SERVICE_LEVEL_SECONDS` (`"default"`). The Asterisk values
come in through `asterisk_levels`, a plain callable the composition root connects to the
live state, so this package never reads the PBX itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo

from supervisor.alerts import AlertThresholds

DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_SERVICE_LEVEL = 20

SETTING = "setting"
ASTERISK = "asterisk"
DEFAULT = "default"


def _no_levels() -> Mapping[str, int]:
    return {}


@dataclass(frozen=True, slots=True)
class ReportConfig:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    service_level_seconds: int = DEFAULT_SERVICE_LEVEL
    queue_service_levels: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    asterisk_levels: Callable[[], Mapping[str, int]] = _no_levels
    alerts: AlertThresholds = field(default_factory=AlertThresholds)  # the live view's

    def threshold(self, queue: str | None) -> int:
        """The service-level threshold of a queue (the default for calls outside queues)."""
        return self.threshold_and_source(queue)[0]

    def threshold_and_source(self, queue: str | None) -> tuple[int, str]:
        """A queue's threshold and where it comes from: "setting", "asterisk" or "default"."""
        if queue:
            if queue in self.queue_service_levels:
                return self.queue_service_levels[queue], SETTING
            seconds = self.asterisk_levels().get(queue, 0)
            if seconds > 0:  # Asterisk says 0 when queues.conf has no servicelevel
                return seconds, ASTERISK
        return self.service_level_seconds, DEFAULT

    def thresholds(self) -> dict[str, int]:
        """Every queue's threshold that is not the default (the settings over Asterisk's)."""
        merged = {name: s for name, s in self.asterisk_levels().items() if s > 0}
        merged.update(self.queue_service_levels)
        return merged

    @classmethod
    def create(
        cls,
        timezone: str,
        service_level_seconds: int,
        queue_service_levels: Mapping[str, int],
        asterisk_levels: Callable[[], Mapping[str, int]] | None = None,
        alerts: AlertThresholds | None = None,
    ) -> ReportConfig:
        return cls(
            alerts=alerts or AlertThresholds(),
            timezone=ZoneInfo(timezone),
            service_level_seconds=service_level_seconds,
            # A read-only view given by the caller stays live (the admin's targets update
            # the mapping behind it); anything else is copied.
            queue_service_levels=queue_service_levels
            if isinstance(queue_service_levels, MappingProxyType)
            else MappingProxyType(dict(queue_service_levels)),
            asterisk_levels=asterisk_levels or _no_levels,
        )
