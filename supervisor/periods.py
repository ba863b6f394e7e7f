"""Report periods in the call center's local time, and the local day/hour of a moment.

A report covers whole local days, `start` to `end` inclusive. Calls are counted in the
local hour in which they *started* (a call that starts at 23:59:50 and is answered at
00:00:05 belongs to the earlier day).

Rollups are aggregated from `calls` per 15-minute UTC slot first: every time zone's
offset from UTC is a whole number of quarter hours, so each slot lies inside exactly one
local hour — also in zones such as Asia/Kolkata (+05:30) and across DST changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from supervisor.errors import ReportParameterError

MAX_DAYS = 366
SLOT = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class ReportPeriod:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[first local midnight, the local midnight after the last day) in UTC."""
        return local_midnight(self.start, tz), local_midnight(self.end + timedelta(days=1), tz)

    def each_day(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += timedelta(days=1)


def parse_date(value: str | None, parameter: str) -> date:
    if value is None or not value.strip():
        raise ReportParameterError(parameter, "is required (YYYY-MM-DD)")
    text = value.strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ReportParameterError(
            parameter, f"{value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-26"
        ) from None


def parse_period(start: str | None, end: str | None, *, max_days: int = MAX_DAYS) -> ReportPeriod:
    """Validate `start`/`end` (YYYY-MM-DD, inclusive); `end` defaults to `start`."""
    first = parse_date(start, "start")
    last = parse_date(end, "end") if end is not None and end.strip() else first
    if last < first:
        raise ReportParameterError("end", f"{last} is before start {first}")
    period = ReportPeriod(first, last)
    if period.days > max_days:
        raise ReportParameterError(
            "end", f"the range covers {period.days} days; at most {max_days} days per report"
        )
    return period


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def local_bucket(moment: datetime, tz: ZoneInfo) -> tuple[date, int]:
    """The local (day, hour) a moment falls in."""
    local = moment.astimezone(tz)
    return local.date(), local.hour


def slot_start(moment: datetime) -> datetime:
    """The start of the 15-minute UTC slot holding a moment."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def hour_range(day: date, hour: int, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The UTC range of one local hour: two hours long when DST repeats it, None when skipped."""
    start = datetime(day.year, day.month, day.day, hour, tzinfo=tz).astimezone(UTC)
    if local_bucket(start, tz) != (day, hour):
        return None  # the clocks jumped over this hour
    end = start + SLOT
    while local_bucket(end, tz) == (day, hour) and end - start < timedelta(hours=3):
        end += SLOT
    return start, end
