"""Report figures against values computed by hand from tests/supervisor/kit_dataset.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from kernel.bus import EventBus
from supervisor.errors import ReportParameterError
from supervisor.periods import parse_period
from supervisor.reports import Group
from supervisor.service import Supervisor
from telephony.domain import AgentStateChanged, DomainEvent
from tests.kit_traces import trace_path
from tests.supervisor.conftest import Reporting
from tests.supervisor.kit_dataset import CALLS, MSK, call, number
from tests.supervisor.kit_traces import event, run_until


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


async def test_queue_report_for_one_day(known: Reporting) -> None:
    rows = by(await known.reports.queues(parse_period("2026-11-02", "2026-11-02")), "queue")
    assert set(rows) == {"support", "sales"}
    support = rows["support"]
    # calls 1-8 and 16 (23:59:50): 17 at 00:00:10 belongs to Tuesday
    assert support["offered"] == 9
    assert support["answered"] == 5  # 1, 2, 3, 7, 16
    assert support["abandoned"] == 3  # 4, 5, 6
    assert support["unanswered"] == 1  # 8 left the queue unanswered
    assert support["answered_within_sl"] == 4  # holds 5, 20 (= threshold), 0, 15; not 21
    assert support["abandoned_within_sl"] == 2  # 10, 20 (= threshold); not 45
    assert support["sl_threshold_seconds"] == 20
    assert support["service_level"] == 57.1  # 4 / (5 answered + 1 abandoned late + 1 unanswered)
    assert support["servicelevel_perf"] == 80.0  # Asterisk's: 4 / 5
    assert support["servicelevel_perf2"] == 75.0  # Asterisk's: (4 + 2) / (5 + 3)
    assert support["answer_rate"] == 55.6  # 5 / 9
    assert support["abandon_rate"] == 33.3  # 3 / 9
    assert support["asa_seconds"] == 12.2  # (5 + 20 + 21 + 0 + 15) / 5
    assert support["aht_seconds"] == 152.0  # (100 + 200 + 300 + 60 + 100) / 5, AgentComplete
    assert support["avg_abandon_seconds"] == 25.0  # (10 + 20 + 45) / 3
    assert support["longest_wait_seconds"] == 60.0
    assert support["talk_seconds"] == 760.0
    sales = rows["sales"]
    assert sales["sl_threshold_seconds"] == 30
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (3, 2, 1)
    assert sales["answered_within_sl"] == 2  # 25 and 30 (= its 30 s threshold)
    assert sales["abandoned_within_sl"] == 0  # 31
    assert sales["service_level"] == 66.7  # 2 / (2 + 1)
    assert sales["asa_seconds"] == 27.5
    assert sales["aht_seconds"] == 150.0
    assert sales["abandon_rate"] == 33.3


async def test_queue_report_over_two_days_and_filters(known: Reporting) -> None:
    period = parse_period("2026-11-02", "2026-11-03")
    support = by(await known.reports.queues(period), "queue")["support"]
    # adds 17 (abandoned at 5 s), 18 (12 s), 19 (40 s), 21 (8 s)
    assert (support["offered"], support["answered"], support["abandoned"]) == (13, 8, 4)
    assert (support["answered_within_sl"], support["abandoned_within_sl"]) == (6, 3)
    assert support["service_level"] == 60.0  # 6 / (8 + 1 + 1)
    assert support["asa_seconds"] == 15.1  # 121 / 8
    assert support["aht_seconds"] == 137.5  # 1100 / 8
    only = await known.reports.queues(period, queue="sales")
    assert [row["queue"] for row in only] == ["sales"]
    assert only[0]["offered"] == 4
    assert await known.reports.queues(period, queue="no-such-queue") == []
    assert await known.reports.queues(parse_period("2026-10-01", "2026-10-31")) == []


async def test_queue_report_per_day_and_hour(known: Reporting) -> None:
    period = parse_period("2026-11-02", "2026-11-04")
    daily = await known.reports.queues(period, group=Group.DAY)
    support = {row["day"]: row["offered"] for row in daily if row["queue"] == "support"}
    assert support == {"2026-11-02": 9, "2026-11-03": 4, "2026-11-04": 1}
    hourly = await known.reports.queues(period, queue="support", group=Group.HOUR)
    cells = {(row["day"], row["hour"]): row for row in hourly}
    assert (cells[("2026-11-02", 9)]["offered"], cells[("2026-11-02", 9)]["answered"]) == (5, 3)
    assert cells[("2026-11-02", 23)]["answered"] == 1  # 23:59:50 stays on Monday
    assert cells[("2026-11-03", 0)]["abandoned"] == 1  # 00:00:10 Moscow, still Monday in UTC
    assert cells[("2026-11-03", 2)]["answered"] == 1  # 02:30 Moscow = 23:30 UTC Monday
    assert [key for key in cells] == sorted(cells)
    profile = await known.reports.queues(period, queue="support", group=Group.HOUR_OF_DAY)
    assert {row["hour"]: row["offered"] for row in profile}[9] == 5  # 1-5
    assert {row["hour"]: row["offered"] for row in profile}[10] == 4  # 6, 7, 8 and Wed's 22


async def test_agent_report(known: Reporting) -> None:
    rows = by(
        await known.reports.agents(parse_period("2026-11-02", "2026-11-02")), "agent_interface"
    )
    assert set(rows) == {"Local/101@agents", "Local/102@agents", "Local/103@agents"}
    a101 = rows["Local/101@agents"]
    assert a101["agent_name"] == "Agent 101"
    assert a101["answered"] == 4  # 1, 2, 16 from support; 12 routed straight to him
    assert a101["answered_within_sl"] == 4
    assert a101["talk_seconds"] == 450.3  # 100 + 200 + 100 (AgentComplete) + 50.3 (direct)
    assert a101["aht_seconds"] == 112.6
    assert a101["asa_seconds"] == 11.1  # (5 + 20 + 15 + 4.4) / 4
    assert (a101["outbound"], a101["outbound_answered"], a101["outbound_talk_seconds"]) == (
        1,
        1,
        40.3,
    )
    a102 = rows["Local/102@agents"]
    assert (a102["answered"], a102["answered_within_sl"], a102["talk_seconds"]) == (2, 1, 360.0)
    assert (a102["aht_seconds"], a102["asa_seconds"]) == (180.0, 10.5)
    assert (a102["outbound"], a102["outbound_answered"], a102["outbound_talk_seconds"]) == (
        2,
        1,
        90.3,
    )
    a103 = rows["Local/103@agents"]
    assert (a103["answered"], a103["answered_within_sl"], a103["aht_seconds"]) == (2, 2, 150.0)


async def test_agent_report_filters_and_days(known: Reporting) -> None:
    period = parse_period("2026-11-02", "2026-11-03")
    one = await known.reports.agents(period, agent="Local/101@agents/n")
    assert [row["agent_interface"] for row in one] == ["Local/101@agents"]
    assert one[0]["answered"] == 5  # + 19 on Tuesday
    sales = await known.reports.agents(period, queue="sales")
    assert [(row["agent_interface"], row["answered"]) for row in sales] == [("Local/103@agents", 2)]
    daily = await known.reports.agents(period, agent="Local/103@agents", group=Group.DAY)
    assert [(row["day"], row["answered"]) for row in daily] == [
        ("2026-11-02", 2),
        ("2026-11-03", 1),
    ]
    assert await known.reports.agents(period, agent="PJSIP/999") == []


async def test_missed_calls_and_who_called_back(known: Reporting) -> None:
    result = await known.missed.list(parse_period("2026-11-02", "2026-11-02"))
    assert result["total"] == 6
    linkedids = [row["linkedid"].split(".")[1] for row in result["calls"]]
    assert linkedids == ["13", "11", "8", "6", "5", "4"]  # newest first
    rows = {row["linkedid"].split(".")[1]: row for row in result["calls"]}
    assert rows["4"]["caller_number"] == number(4)
    assert rows["4"]["wait_seconds"] == 10.0
    assert rows["4"]["returned"]["how"] == "called_back"
    assert rows["4"]["returned"]["agent_interface"] == "Local/101@agents"
    assert rows["13"]["wait_seconds"] == 25.4 and rows["13"]["queue"] is None
    assert all(rows[n]["returned"] is None for n in ("5", "6", "8", "11", "13"))
    assert all(row["callback_task"] is None for row in result["calls"])
    page = await known.missed.list(
        parse_period("2026-11-02", "2026-11-02"), queue="support", limit=2, offset=1
    )
    assert [row["linkedid"].split(".")[1] for row in page["calls"]] == ["6", "5"]
    assert page["total"] == 4
    with pytest.raises(ReportParameterError):
        await known.missed.list(parse_period("2026-11-02", None), limit=0)


async def test_storing_again_counts_nothing_twice(known: Reporting) -> None:
    period = parse_period("2026-11-02", "2026-11-04")
    before = await known.reports.queues(period, group=Group.HOUR)
    agents_before = await known.reports.agents(period)
    assert await known.calls.save(CALLS[:10]) == 0  # duplicates are refused by `calls`
    await known.rollups.after_save(CALLS[:10])
    assert await known.rollups.catch_up() == 0
    assert await known.reports.queues(period, group=Group.HOUR) == before
    assert await known.rollups.rebuild(period) > 0
    assert await known.reports.queues(period, group=Group.HOUR) == before
    assert await known.reports.agents(period) == agents_before


async def test_todays_figures_are_read_again_when_calls_are_rolled_up(known: Reporting) -> None:
    bus: EventBus[DomainEvent] = EventBus()
    supervisor = Supervisor.create(
        known.db,
        bus.subscribe("agent-time", kinds=[AgentStateChanged]),
        timezone="Europe/Moscow",
        service_level_seconds=20,
        queue_service_levels={},
    )
    noon = datetime(2026, 11, 2, 12, 0, tzinfo=MSK).timestamp()
    first = await supervisor.today(noon)
    assert first.day == date(2026, 11, 2) and first.queue("support")["offered"] == 9
    assert await supervisor.today(noon + 5) is first  # nothing new: the cached figures
    late = call(
        99, "2026-11-02 16:00:00", queue="support", agent=None, disposition="abandoned", hold=3
    )
    await known.calls.save([late])
    await supervisor.rollups.after_save([late])
    again = await supervisor.today(noon + 6)
    assert again.queue("support")["offered"] == 10
    assert (await supervisor.today(noon + 86400)).day == date(2026, 11, 3)
    state, _ = run_until(trace_path("01-queue-answered.ami"), event("AgentConnect"))
    view = await supervisor.live_view(state, noon)
    assert view["day"] == "2026-11-02"
    assert next(q for q in view["queues"] if q["queue"] == "support")["today"]["offered"] == 10
