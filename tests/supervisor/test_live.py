"""The live view, built from the reducer's state at known moments of the real traces."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from supervisor.config import ReportConfig
from supervisor.live import DirectoryFromMaps, LiveBuilder, wanted
from supervisor.reports import TodayFigures
from telephony.reducer import CallState
from tests.kit_traces import trace_path
from tests.supervisor.kit_traces import event, run_until

CONFIG = ReportConfig.create("Europe/Moscow", 20, {"support": 30})
TODAY = TodayFigures.empty(date(2026, 11, 26))


def view(state: CallState, now: float, **kwargs: Any) -> dict[str, Any]:
    today = kwargs.pop("today", TODAY)
    directory = kwargs.pop("directory", None)
    data = LiveBuilder(state, now, today, CONFIG, directory, **kwargs).build()
    json.dumps(data)  # it must serialize as it is
    return data


def queue(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in data["queues"] if q["queue"] == name)


def test_a_caller_waits_while_an_agent_rings() -> None:
    state, at = run_until(trace_path("01-queue-answered.ami"), event("AgentCalled"))
    data = view(state, at + 2.0)
    support = queue(data, "support")
    assert support["sl_threshold_seconds"] == 30
    [waiting] = support["waiting"]
    assert waiting["caller_number"] == "+79160000001"
    assert waiting["position"] == 1
    assert waiting["wait_seconds"] == 2.0  # the join and the ring came in one TCP read
    assert support["longest_wait_seconds"] == waiting["wait_seconds"]
    [agent] = support["agents"]
    assert (agent["interface"], agent["name"], agent["state"]) == (
        "Local/101@agents",
        "Agent 101",
        "ringing",
    )
    assert agent["current_call"]["state"] == "ringing"
    assert agent["current_call"]["caller_number"] == "+79160000001"
    assert agent["current_call"]["seconds"] == 2.0
    assert data["totals"] == {
        "calls_in_progress": 1,
        "talking": 0,
        "waiting": 1,
        "longest_wait_seconds": waiting["wait_seconds"],
        "longest_wait_since": waiting["joined_at"],
    }


def test_the_agent_answers() -> None:
    state, at = run_until(trace_path("01-queue-answered.ami"), event("AgentConnect"))
    data = view(state, at + 5.0)
    support = queue(data, "support")
    assert support["waiting"] == []
    [agent] = data["agents"]
    assert agent["state"] == "on_call" and agent["state_seconds"] == 5.0
    call = agent["current_call"]
    assert (call["state"], call["queue"], call["seconds"]) == ("talking", "support", 5.0)
    assert data["totals"]["talking"] == 1


def test_a_caller_waits_in_an_empty_queue_then_abandons() -> None:
    path = trace_path("02b-queue-abandoned-empty-queue.ami")
    state, at = run_until(path, event("QueueCallerJoin"))
    sales = queue(view(state, at + 3.0), "sales")
    assert [w["wait_seconds"] for w in sales["waiting"]] == [3.0]
    assert sales["agents"] == [] and sales["counts"]["logged_in"] == 0
    state, at = run_until(path, event("QueueCallerLeave"))
    assert queue(view(state, at), "sales")["waiting"] == []


def test_positions_follow_the_order_callers_joined() -> None:
    path = trace_path("05-load-20-calls.ami")
    state, at = run_until(path, event("QueueCallerJoin"), nth=12)
    support = queue(view(state, at + 1.0), "support")
    waiting = support["waiting"]
    assert [w["position"] for w in waiting] == list(range(1, len(waiting) + 1))
    assert len(waiting) >= 9  # three agents may already be ringing for the first callers
    waits = [w["wait_seconds"] for w in waiting]
    assert waits == sorted(waits, reverse=True)
    assert support["longest_wait_seconds"] == waits[0]
    assert support["waiting_count"] == len(waiting)
    assert support["longest_wait_since"] == waiting[0]["joined_at"]
    # the pushed messages list the head of each queue only; the counts stay whole
    short = queue(view(state, at + 1.0, waiting_limit=3), "support")
    assert short["waiting"] == waiting[:3] and short["waiting_count"] == len(waiting)
    assert short["longest_wait_seconds"] == waits[0]


def test_a_paused_agent_and_an_available_one() -> None:
    path = trace_path("07-queue-member-pause.ami")
    state, at = run_until(path, event("QueueEntry"))
    sales = queue(view(state, at), "sales")
    assert len(sales["waiting"]) == 1  # the caller waits: agent 104 was added paused
    [agent] = sales["agents"]
    assert (agent["interface"], agent["state"]) == ("Local/104@agents", "paused")
    assert sales["counts"]["paused"] == 1 and sales["counts"]["logged_in"] == 1
    state, at = run_until(path, event("QueueMemberPause", paused="0"))
    sales = queue(view(state, at), "sales")
    assert sales["agents"][0]["state"] == "available"
    assert sales["counts"]["available"] == 1 and sales["counts"]["paused"] == 0
    state, at = run_until(path, event("QueueMemberPause", pausedreason="lunch"))
    data = view(state, at + 60.0)
    support = queue(data, "support")
    [agent] = support["agents"]
    assert (agent["state"], agent["paused_reason"], agent["state_seconds"]) == (
        "paused",
        "lunch",
        60.0,
    )
    assert support["counts"]["paused"] == 1 and support["counts"]["available"] == 0
    assert queue(data, "sales")["agents"][0]["state"] == "available"


def test_paused_in_one_queue_while_on_a_call() -> None:
    path = trace_path("07-queue-member-pause.ami")
    state, at = run_until(path, event("QueueMemberPause", pausedreason="after-call-work"))
    sales = queue(view(state, at), "sales")
    [agent] = sales["agents"]
    assert agent["state"] == "on_call"  # the call comes first; the pause applies after it
    assert agent["current_call"]["state"] == "talking"


def test_logins_contacts_and_todays_figures() -> None:
    state, at = run_until(trace_path("01-queue-answered.ami"), event("AgentCalled"))
    interfaces, numbers = wanted(state)
    assert "Local/101@agents" in interfaces and "+79160000001" in numbers
    directory = DirectoryFromMaps(
        logins={"Local/101@agents": "ivanova"},
        contacts={"+79160000001": {"id": 7, "name": "ООО Ромашка"}},
    ).directory()
    today = TodayFigures(
        date(2026, 11, 26),
        queues={
            "support": {"queue": "support", "offered": 12, "answered": 10, "service_level": 80.0}
        },
        agents={
            "Local/101@agents": {
                "answered": 4,
                "outbound": 1,
                "talk_seconds": 300.0,
                "outbound_talk_seconds": 20.0,
            }
        },
    )
    data = view(state, at, today=today, directory=directory)
    support = queue(data, "support")
    assert support["waiting"][0]["contact"] == {"id": 7, "name": "ООО Ромашка"}
    assert support["today"] == {"offered": 12, "answered": 10, "service_level": 80.0}
    [agent] = data["agents"]
    assert agent["login"] == "ivanova"
    assert (agent["calls_today"], agent["talk_seconds_today"]) == (5, 320.0)
    assert agent["current_call"]["contact"]["name"] == "ООО Ромашка"
    # a queue known only from today's figures (e.g. just after a restart) is listed too
    today.queues["sales"] = {"queue": "sales", "offered": 2}
    assert queue(view(state, at, today=today), "sales")["waiting"] == []
