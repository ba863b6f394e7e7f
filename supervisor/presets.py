"""Named report periods — today, yesterday, this and last week, this and last month — in
the call center's local time (pure: the local date of "now" goes in).

Weeks start on Monday (ISO 8601, as in Russia); "this week" and "this month" run to
today inclusive. A preset is a :class:`supervisor.periods.ReportPeriod` like any other,
so the reports compute it the same way as dates typed by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from supervisor.errors import ReportParameterError
from supervisor.periods import ReportPeriod

PRESETS = ("today", "yesterday", "this_week", "last_week", "this_month", "last_month")


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """The calendar day it is in `tz` at `now` (default: the present moment)."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(tz).date()


def preset_period(name: str, today: date) -> ReportPeriod:
    """The period a preset names, seen from the local day `today`."""
    if name == "today":
        return ReportPeriod(today, today)
    if name == "yesterday":
        day = today - timedelta(days=1)
        return ReportPeriod(day, day)
    monday = today - timedelta(days=today.weekday())
    if name == "this_week":
        return ReportPeriod(monday, today)
    if name == "last_week":
        return ReportPeriod(monday - timedelta(days=7), monday - timedelta(days=1))
    first = today.replace(day=1)
    if name == "this_month":
        return ReportPeriod(first, today)
    if name == "last_month":
        last = first - timedelta(days=1)
        return ReportPeriod(last.replace(day=1), last)
    raise ReportParameterError("preset", f"{name!r} is not one of {', '.join(PRESETS)}")


def all_presets(today: date) -> dict[str, ReportPeriod]:
    """Every preset's period, in the order the report page lists them."""
    return {name: preset_period(name, today) for name in PRESETS}
