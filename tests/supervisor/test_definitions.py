"""Pure pieces: periods and local buckets, the KPI definitions, CSV cells, settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from supervisor.errors import ReportParameterError
from supervisor.export import cell, to_csv
from supervisor.figures import Totals, queue_figures, service_level
from supervisor.periods import hour_range, local_bucket, parse_period
from trubka.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("start", "end", "parameter", "text"),
    [
        (None, None, "start", "is required"),
        ("", "2026-11-02", "start", "is required"),
        ("2026-13-01", None, "start", "is not a date"),
        ("26-11-01", None, "start", "is not a date"),
        ("2026-11-01T10:00", None, "start", "is not a date"),
        ("2026-11-02", "yesterday", "end", "is not a date"),
        ("2026-11-02", "2026-11-01", "end", "is before start"),
        ("2025-01-01", "2026-01-02", "end", "at most 366 days"),
    ],
)
def test_bad_periods_are_refused_with_the_reason(
    start: str | None, end: str | None, parameter: str, text: str
) -> None:
    with pytest.raises(ReportParameterError) as caught:
        parse_period(start, end)
    assert caught.value.parameter == parameter
    assert text in str(caught.value)


def test_good_periods() -> None:
    assert parse_period("2026-11-02", None).days == 1
    assert parse_period("2024-01-01", "2024-12-31").days == 366  # a leap year fits
    period = parse_period(" 2026-11-02 ", "2026-11-03")
    msk = ZoneInfo("Europe/Moscow")
    assert period.utc_bounds(msk) == (
        datetime(2026, 11, 1, 21, tzinfo=UTC),
        datetime(2026, 11, 3, 21, tzinfo=UTC),
    )


def test_local_hours_in_zones_with_dst_and_half_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-10-25: 02:00–03:00 happens twice, so that local hour lasts two hours
    assert hour_range(date(2026, 10, 25), 2, berlin) == (
        datetime(2026, 10, 25, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 2, tzinfo=UTC),
    )
    assert hour_range(date(2026, 3, 29), 2, berlin) is None  # skipped
    kolkata = ZoneInfo("Asia/Kolkata")
    assert hour_range(date(2026, 11, 2), 10, kolkata) == (
        datetime(2026, 11, 2, 4, 30, tzinfo=UTC),
        datetime(2026, 11, 2, 5, 30, tzinfo=UTC),
    )
    msk = ZoneInfo("Europe/Moscow")
    assert local_bucket(datetime(2026, 11, 2, 21, 0, 10, tzinfo=UTC), msk) == (date(2026, 11, 3), 0)


def test_service_level_counts_early_abandons_out() -> None:
    t = Totals()
    for hold, within in ((5, True), (20, True), (21, False)):
        t.add_calls(
            queue="q",
            direction="inbound",
            disposition="answered",
            has_agent=True,
            within_sl=within,
            hold=hold,
        )
    t.add_calls(
        queue="q",
        direction="inbound",
        disposition="abandoned",
        has_agent=False,
        within_sl=True,
        hold=3,
    )
    t.add_calls(
        queue="q",
        direction="inbound",
        disposition="abandoned",
        has_agent=False,
        within_sl=False,
        hold=50,
    )
    assert (t.offered, t.answered, t.abandoned, t.answered_within_sl, t.abandoned_within_sl) == (
        5,
        3,
        2,
        2,
        1,
    )
    assert service_level(t) == 50.0  # 2 / (3 + 1)
    figures = queue_figures(t)
    assert figures["servicelevel_perf"] == 66.7
    assert figures["servicelevel_perf2"] == 60.0
    assert figures["abandon_rate"] == 40.0
    assert figures["longest_wait_seconds"] == 50.0
    empty = queue_figures(Totals())
    assert empty["service_level"] is None and empty["asa_seconds"] is None
    assert empty["abandon_rate"] is None and empty["offered"] == 0


def test_calls_outside_queues() -> None:
    t = Totals()
    t.add_calls(
        queue="",
        direction="inbound",
        disposition="answered",
        has_agent=True,
        within_sl=True,
        hold=4,
        talk=50,
    )
    t.add_calls(
        queue="", direction="inbound", disposition="busy", has_agent=False, within_sl=False, hold=9
    )
    t.add_calls(
        queue="",
        direction="outbound",
        disposition="answered",
        has_agent=True,
        within_sl=True,
        talk=30,
    )
    t.add_calls(
        queue="", direction="outbound", disposition="no-answer", has_agent=True, within_sl=False
    )
    t.add_calls(
        queue="",
        direction="internal",
        disposition="answered",
        has_agent=True,
        within_sl=True,
        talk=9,
    )
    # the two inbound calls routed outside queues are customer calls: offered, once each
    assert (t.offered, t.answered, t.unanswered, t.talk_seconds) == (2, 1, 1, 50)
    assert (t.outbound, t.outbound_answered, t.outbound_talk_seconds) == (2, 1, 30)


def test_csv_cells_are_safe_for_spreadsheets() -> None:
    assert cell('=HYPERLINK("http://x")').startswith("'=")
    assert cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("+74951234567") == "+74951234567"
    assert cell(None) == "" and cell(12.5) == "12.5" and cell({"lunch": 60.0}) == '{"lunch": 60.0}'
    text = to_csv([{"queue": "поддержка", "offered": 3}], ["queue", "offered"])
    assert text == "\ufeffqueue,offered\r\nподдержка,3\r\n"


def test_report_settings() -> None:
    settings = load_settings(timezone="Asia/Kolkata", queue_service_levels="support=30, sales = 15")
    assert settings.service_levels() == {"support": 30, "sales": 15}
    assert load_settings().timezone == "Europe/Moscow"
    assert load_settings().service_level_seconds == 20
    with pytest.raises(SettingsError, match="TRUBKA_TIMEZONE: unknown time zone"):
        load_settings(timezone="Mars/Olympus")
    with pytest.raises(SettingsError, match="TRUBKA_QUEUE_SERVICE_LEVELS"):
        load_settings(queue_service_levels="support:30")
    with pytest.raises(SettingsError, match="between 1 and 3600"):
        load_settings(queue_service_levels="support=0")
