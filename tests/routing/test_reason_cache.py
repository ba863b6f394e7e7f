"""The reasons kept to spare CPU per call: a cached rendering is the rendering of that
reason in that language, and a shared free-agent reason says what a fresh one would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kernel.agents import AgentState
from routing import decide as decide_module
from routing import reasons
from routing.decide import decide
from routing.decision import Caller, Reason, ReasonKey, RoutedBy
from routing.facts import AgentRef, RoutingFacts
from routing.reasons import _render, render
from routing.rules import RoutingRules

K = ReasonKey
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
PETROV = AgentRef(1, "Петров", ("PJSIP/101",))
IVANOVA = AgentRef(2, "Ivanova", ("PJSIP/102",))


def test_a_cached_reason_is_rendered_in_each_language_with_its_own_values() -> None:
    first = Reason(K.PREVIOUS_MANAGER_FREE, {"agent": "Ivanova", "ago": 3 * 86400})
    assert render(first) == "Ivanova: talked 3 days ago"
    assert render(first, "ru") == "Ivanova: разговаривали 3 дня назад"
    assert render(first) == "Ivanova: talked 3 days ago"  # the cached English, not the Russian
    other = Reason(K.PREVIOUS_MANAGER_FREE, {"agent": "Ivanova", "ago": 59})
    assert render(other) == "Ivanova: talked just now"
    assert render(Reason(K.OWNER_FREE, {"agent": "Петров"}), "ru") == "ответственный Петров"
    assert render(Reason(K.OWNER_FREE, {"agent": "Ivanova"}), "ru") == "ответственный Ivanova"
    # a language without a wording is English, cached or not
    assert render(first, "de") == render(first, "de") == "Ivanova: talked 3 days ago"


def test_the_cache_stays_bounded_and_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reasons, "RENDERED_MAX", 8)
    monkeypatch.setattr(reasons, "_RENDERED", {})
    for n in range(50):
        why = Reason(K.OWNER_FREE, {"agent": f"Agent {n}"})
        assert render(why) == f"owner Agent {n}: responsible manager"
        assert len(reasons._RENDERED) <= 8


def test_odd_values_render_as_without_the_cache() -> None:
    unhashable = Reason(K.OWNER_FREE, {"agent": ["x"]})
    assert render(unhashable) == _render(K.OWNER_FREE, {"agent": ["x"]}, reasons.ENGLISH)
    broken = Reason(K.OWNER_FREE, {})
    for _ in range(2):  # a failed rendering is not kept
        with pytest.raises(KeyError):
            render(broken)
    parts = Reason(K.QUEUE, {"parts": [{"key": "manager_busy", "values": {
        "agent": "Ivanova", "role": "owner", "state": AgentState.ON_CALL.value}}]})  # fmt: skip
    assert render(parts) == "owner Ivanova is on a call → queue"
    assert render(parts, "ru") == "ответственный Ivanova разговаривает → очередь"


def _facts(talked_ago: timedelta) -> RoutingFacts:
    return RoutingFacts(
        contact_id=7,
        contact_name="ООО Ромашка",
        owner=PETROV,
        last_agent=IVANOVA,
        last_talked_at=NOW - talked_ago,
    )


def test_free_agents_share_a_reason_that_says_what_a_fresh_one_would() -> None:
    rules = RoutingRules().for_did(None)
    caller = Caller("+79161234567", "79161234567")
    free = {"PJSIP/101": AgentState.AVAILABLE, "PJSIP/102": AgentState.AVAILABLE}
    one = decide(caller, _facts(timedelta(days=3)), free, rules, NOW)
    two = decide(caller, _facts(timedelta(days=3)), free, rules, NOW)
    assert one.routed_by is RoutedBy.PREVIOUS_MANAGER
    assert one.why == Reason(K.PREVIOUS_MANAGER_FREE, {"agent": "Ivanova", "ago": 3 * 86400})
    assert one.reason == render(one.why) == "Ivanova: talked 3 days ago"
    assert two.why is one.why and two.reason == one.reason
    assert one.why.to_json() == {
        "key": "previous_manager_free",
        "values": {"agent": "Ivanova", "ago": 259200},
    }
    later = decide(caller, _facts(timedelta(hours=2)), free, rules, NOW)
    assert later.reason == "Ivanova: talked 2 hours ago"
    assert later.why is not None and later.why.values["ago"] == 7200
    # the previous manager busy: the owner, with the owner's reason
    busy = {"PJSIP/101": AgentState.AVAILABLE, "PJSIP/102": AgentState.ON_CALL}
    owner = decide(caller, _facts(timedelta(days=3)), busy, rules, NOW)
    assert (owner.routed_by, owner.reason) == (RoutedBy.OWNER, "owner Петров: responsible manager")
    assert owner.why == Reason(K.OWNER_FREE, {"agent": "Петров"})


def test_the_shared_free_reasons_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decide_module, "FREE_MAX", 4)
    monkeypatch.setattr(decide_module, "_FREE", {})
    rules = RoutingRules().for_did(None)
    caller = Caller("+79161234567", "79161234567")
    free = {"PJSIP/102": AgentState.AVAILABLE}
    for minutes in range(1, 30):
        decision = decide(caller, _facts(timedelta(minutes=minutes)), free, rules, NOW)
        unit = "minute" if minutes == 1 else "minutes"
        assert decision.reason == f"Ivanova: talked {minutes} {unit} ago"
        assert len(decide_module._FREE) <= 4


def test_reasons_without_values_are_stored_as_an_empty_mapping() -> None:
    rules = RoutingRules().for_did(None)
    anonymous = decide(Caller(None, "anonymous", anonymous=True), None, {}, rules, NOW)
    assert anonymous.reason == "no caller ID → queue"
    assert anonymous.why == Reason(K.NO_CALLER_ID)
    assert anonymous.why is not None
    assert anonymous.why.to_json() == {"key": "no_caller_id", "values": {}}
    assert dict(anonymous.why.values) == {}
