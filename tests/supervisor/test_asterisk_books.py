"""Issue 16, items 5, 6 and 9: the report figures agree with Asterisk's own books.

* Routed calls (FastAGI sent them straight to a person, no queue) are customer calls: the
  day's totals and the per-line report count them, once; per queue stays per queue.
* A queue's service-level threshold is Asterisk's `servicelevel` (AMI `QueueParams`)
  unless a setting overrides it, and the reports and the live view say which one.
* Only Trubka users' interfaces and queue members are agents in the agents report.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date

from crm.database import Database
from supervisor.config import ReportConfig
from supervisor.figures import FIGURE_DEFINITIONS
from supervisor.live import LiveBuilder
from supervisor.pbx_facts import AgentRoster, asterisk_service_levels
from supervisor.periods import parse_period
from supervisor.reports import Group, ReportService, TodayFigures
from supervisor.rollups import RollupStore
from telephony.pipeline import EventPipeline
from telephony.records import CallRecord
from telephony.reducer import CallState, ReducerConfig
from tests.supervisor.conftest import Reporting, reporting
from tests.supervisor.kit_dataset import CALLS, SERVICE_LEVELS, TIMEZONE, call

MONDAY = parse_period("2026-11-02", "2026-11-02")
MAIN_LINE = "+74950000000"
SALES_LINE = "+74957770000"


def routed(record: CallRecord, line: str, by: str = "previous-manager") -> CallRecord:
    return dataclasses.replace(record, called_number=line, routed_by=by)


# --- item 5: routed calls --------------------------------------------------------------
async def test_routed_calls_count_in_the_days_totals_and_under_their_line(
    known: Reporting,
) -> None:
    per_queue = await known.reports.queues(MONDAY)
    assert sum(row["offered"] for row in per_queue) == 12  # support 9 + sales 3: queue calls
    [day] = await known.reports.queues(MONDAY, group=Group.DAY, combined=True)
    # + call 12 (routed to agent 101, answered) and 13 (routed, nobody answered)
    assert (day["offered"], day["answered"], day["unanswered"]) == (14, 8, 2)
    assert day["abandoned"] == 4  # the queues' abandons, unchanged
    [line] = await known.reports.lines(MONDAY)
    assert line["line"] == MAIN_LINE
    assert (line["offered"], line["queued"], line["routed"]) == (14, 12, 2)
    assert line["offered"] == day["offered"]  # every inbound call once, whichever way


async def test_each_line_counts_its_own_calls_once(db: Database) -> None:
    r = reporting(db)
    extra = [
        routed(call(41, "2026-11-02 14:00:00", queue=None, agent="104", disposition="answered",
                    wait=3.0, talk=40), SALES_LINE),
        # routed to the previous manager, who did not answer: fell through to the queue
        routed(call(42, "2026-11-02 14:10:00", queue="sales", agent="103",
                    disposition="answered", hold=12, talk=30), SALES_LINE, "owner"),
    ]  # fmt: skip
    await r.calls.save([*CALLS, *extra])
    await r.rollups.catch_up()
    lines = {row["line"]: row for row in await r.reports.lines(MONDAY)}
    assert set(lines) == {MAIN_LINE, SALES_LINE}
    sales = lines[SALES_LINE]
    assert (sales["offered"], sales["queued"], sales["routed"], sales["answered"]) == (2, 1, 1, 2)
    [day] = await r.reports.queues(MONDAY, group=Group.DAY, combined=True)
    assert day["offered"] == 16 == sum(row["offered"] for row in lines.values())
    per_queue = {row["queue"]: row["offered"] for row in await r.reports.queues(MONDAY)}
    assert per_queue == {"support": 9, "sales": 4}  # the fallen-through call once, in sales
    daily = await r.reports.lines(parse_period("2026-11-02", "2026-11-03"), group=Group.DAY)
    assert {(row["day"], row["line"]) for row in daily} >= {
        ("2026-11-02", MAIN_LINE),
        ("2026-11-02", SALES_LINE),
    }


def test_the_definitions_say_what_each_figure_counts() -> None:
    for name in ("offered", "routed", "queued", "service_level", "sl_threshold_seconds"):
        assert name in FIGURE_DEFINITIONS
    assert "routed" in FIGURE_DEFINITIONS["offered"]
    assert "Short abandons" in FIGURE_DEFINITIONS["service_level"]


# --- item 6: the service level from Asterisk -------------------------------------------
def queue_params(state: CallState, queue: str, service_level: int) -> None:
    pipeline = EventPipeline(state=state)
    frame = (
        f"Event: QueueParams\r\nQueue: {queue}\r\nMax: 0\r\nStrategy: ringall\r\nCalls: 0\r\n"
        f"Holdtime: 0\r\nTalkTime: 0\r\nCompleted: 0\r\nAbandoned: 0\r\n"
        f"ServiceLevel: {service_level}\r\nServicelevelPerf: 0.0\r\n"
        f"ServicelevelPerf2: 0.0\r\nWeight: 0\r\n\r\n"
    ).encode()
    pipeline.feed_frames(list(pipeline.decoder.feed(frame)), 1.0)


def test_thresholds_come_from_asterisk_unless_a_setting_overrides_them() -> None:
    state = CallState(config=ReducerConfig())
    queue_params(state, "support", 30)
    queue_params(state, "sales", 15)
    queue_params(state, "billing", 0)  # no servicelevel in queues.conf
    config = ReportConfig.create(TIMEZONE, 20, {"sales": 25}, asterisk_service_levels(state))
    assert config.threshold_and_source("support") == (30, "asterisk")
    assert config.threshold_and_source("sales") == (25, "setting")
    assert config.threshold_and_source("billing") == (20, "default")
    assert config.threshold_and_source(None) == (20, "default")
    assert config.thresholds() == {"support": 30, "sales": 25}
    data = LiveBuilder(state, 2.0, TodayFigures.empty(date(2026, 11, 2)), config, None).build()
    json.dumps(data)
    shown = {
        q["queue"]: (q["service_level_seconds"], q["service_level_source"]) for q in data["queues"]
    }
    assert shown == {
        "support": (30, "asterisk"),
        "sales": (25, "setting"),
        "billing": (20, "default"),
    }


async def test_the_rollups_count_against_asterisks_threshold(db: Database) -> None:
    state = CallState(config=ReducerConfig())
    config = ReportConfig.create(TIMEZONE, 20, SERVICE_LEVELS, asterisk_service_levels(state))
    rollups = RollupStore(db, config)
    reports = ReportService(db, config)
    r = reporting(db)
    await r.calls.save(CALLS)
    queue_params(state, "support", 30)  # Asterisk said so before the calls were rolled up
    await rollups.catch_up()
    support = {row["queue"]: row for row in await reports.queues(MONDAY)}["support"]
    assert support["sl_threshold_seconds"] == 30
    assert (support["service_level_seconds"], support["service_level_source"]) == (30, "asterisk")
    assert support["answered_within_sl"] == 5  # the 21 s hold is within 30 s (not 20 s)
    sales = {row["queue"]: row for row in await reports.queues(MONDAY)}["sales"]
    assert (sales["service_level_seconds"], sales["service_level_source"]) == (30, "setting")


# --- item 9: phantom operators ---------------------------------------------------------
async def test_a_mistyped_dial_is_no_agent(db: Database) -> None:
    phantom = dataclasses.replace(
        call(51, "2026-11-02 15:00:00", queue=None, agent=None, disposition="answered",
             direction="outbound", wait=2, talk=20),
        agent_interface="Local/12@pstn-out",
        agents=("Local/12@pstn-out",),
    )  # fmt: skip
    state = CallState(config=ReducerConfig())
    r = reporting(db)
    await r.calls.save([*CALLS, phantom])
    await r.rollups.catch_up()
    everyone = {row["agent_interface"] for row in await r.reports.agents(MONDAY)}
    assert "Local/12@pstn-out" in everyone  # nothing filters without a roster

    async def users() -> frozenset[str] | None:
        return frozenset({"local/101@agents", "local/102@agents"})

    reports = ReportService(db, r.config, users)
    agents = {row["agent_interface"] for row in await reports.agents(MONDAY)}
    # 101 and 102 are users; 103 is no user but answered sales calls (a queue member)
    assert agents == {"Local/101@agents", "Local/102@agents", "Local/103@agents"}
    roster = AgentRoster(None, state)
    assert await roster() == frozenset()
    with_roster = ReportService(db, r.config, roster)
    assert "Local/12@pstn-out" not in {
        row["agent_interface"] for row in await with_roster.agents(MONDAY)
    }


# --- item 4: one agent, one key ----------------------------------------------------------
async def test_an_agent_dialled_directly_and_through_a_queue_is_one_row(known: Reporting) -> None:
    # The data set names agent 101 `Local/101@agents/n` on queue calls and
    # `Local/101@agents` on the call routed straight to them (call 12), as Asterisk does.
    rows = await known.reports.agents(MONDAY)
    keys = [row["agent_interface"] for row in rows]
    assert len(keys) == len({key.lower() for key in keys})
    [anna] = [row for row in rows if row["agent_interface"].lower() == "local/101@agents"]
    queue_only = await known.reports.agents(MONDAY, queue="support")
    [anna_queue] = [r for r in queue_only if r["agent_interface"].lower() == "local/101@agents"]
    assert anna["answered"] == anna_queue["answered"] + 1  # + the routed call 12
