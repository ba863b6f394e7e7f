"""Every routing rule, with the agents' live state taken from the real traces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kernel.agents import AgentState
from routing import decide as decide_module
from routing.decide import FactsUnavailable
from routing.decision import Caller, Decision, Reason, ReasonKey, RoutedBy
from routing.facts import AgentRef, RoutingFacts
from routing.reasons import render
from routing.rules import Policy, parse_rules
from tests.routing.kit_pictures import (
    A101,
    A102,
    A103,
    A104,
    Picture,
    all_free,
    free_101,
    logged_out_104,
    paused_104,
    ringing_102,
    talking_101,
    talking_101_free_103,
)

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)  # a Thursday; 12:30 in Moscow
CALLER = Caller("+79161234567", "79161234567", "+74951234567")

IVANOVA = AgentRef(1, "Ivanova", (A101,))
PETROV = AgentRef(2, "Petrov", (A103,))
SIDOROV = AgentRef(3, "Sidorov", (A102,))
KOZLOVA = AgentRef(4, "Kozlova", (A104,))


def facts(
    last: AgentRef | None = IVANOVA,
    owner: AgentRef | None = PETROV,
    days_ago: float = 3,
    tags: frozenset[str] = frozenset(),
) -> RoutingFacts:
    return RoutingFacts(
        contact_id=4242,
        contact_name="Иван Петров",
        company_id=7,
        company_name="ООО Ромашка",
        tags=tags,
        owner=owner,
        last_agent=last,
        last_talked_at=NOW - timedelta(days=days_ago) if last else None,
    )


def decide(
    caller: Caller,
    f: RoutingFacts | FactsUnavailable | None,
    live: dict[str, AgentState],
    rules: Policy,
    now: datetime,
) -> Decision:
    """`routing.decide`, checking that the English reason is rendered from the structured
    one (every decision of these tests: the texts they assert are renderings)."""
    d = decide_module.decide(caller, f, live, rules, now)
    assert d.why is not None and render(d.why, "en") == d.reason
    return d


def presence(picture: Picture) -> dict[str, AgentState]:
    return picture.presence(A101, A102, A103, A104)


def route(
    picture: Picture,
    f: RoutingFacts | FactsUnavailable | None,
    rules: Policy | None = None,
    caller: Caller = CALLER,
    now: datetime = NOW,
) -> Decision:
    return decide(caller, f, presence(picture), rules or Policy(), now)


# --- the previous manager and the owner ------------------------------------------------


def test_previous_manager_free_gets_the_call() -> None:
    d = route(free_101(), facts())
    assert d.routed_by is RoutedBy.PREVIOUS_MANAGER
    assert (d.agent, d.agent_name, d.agent_user_id, d.ring_seconds) == (A101, "Ivanova", 1, 20)
    assert d.reason == "Ivanova: talked 3 days ago"
    assert d.why == Reason(ReasonKey.PREVIOUS_MANAGER_FREE, {"agent": "Ivanova", "ago": 3 * 86400})
    assert (d.contact_id, d.contact_name, d.queue, d.wait_seconds) == (
        4242,
        "Иван Петров",
        "support",
        0,
    )


def test_previous_manager_on_a_call_owner_free_gets_it() -> None:
    picture = talking_101_free_103()
    assert picture.agent(A101) is AgentState.ON_CALL
    d = route(picture, facts())
    assert d.routed_by is RoutedBy.OWNER
    assert d.agent == A103
    assert d.reason == "owner Petrov: responsible manager"
    assert d.why == Reason(ReasonKey.OWNER_FREE, {"agent": "Petrov"})


def test_nobody_free_goes_to_the_queue_with_each_reason() -> None:
    d = route(talking_101(), facts(owner=KOZLOVA))
    assert d.routed_by is RoutedBy.QUEUE and d.agent is None
    assert d.reason == "Ivanova is on a call, owner Kozlova is not logged in → queue"
    assert d.why == Reason(
        ReasonKey.QUEUE,
        {
            "parts": [
                {
                    "key": "manager_busy",
                    "values": {"agent": "Ivanova", "role": "last-agent", "state": "on_call"},
                },
                {
                    "key": "manager_busy",
                    "values": {"agent": "Kozlova", "role": "owner", "state": "logged_out"},
                },
            ]
        },
    )
    assert (d.contact_id, d.owner_user_id) == (
        4242,
        4,
    )  # a missed call's callback goes to the owner


def test_owner_on_a_call_goes_to_the_queue() -> None:
    d = route(talking_101(), facts(last=None, owner=IVANOVA))
    assert d.routed_by is RoutedBy.QUEUE
    assert d.reason == "owner Ivanova is on a call → queue"


def test_ringing_agent_is_not_free() -> None:
    picture = ringing_102()
    assert picture.agent(A102) is AgentState.RINGING
    d = route(picture, facts(last=SIDOROV, owner=None))
    assert d.routed_by is RoutedBy.QUEUE
    assert d.reason == "Sidorov is ringing for another call → queue"


def test_paused_agent_is_not_free() -> None:
    d = route(paused_104(), facts(last=KOZLOVA, owner=None))
    assert d.routed_by is RoutedBy.QUEUE
    assert d.reason == "Kozlova is paused → queue"


def test_logged_out_agent_is_not_free() -> None:
    picture = logged_out_104()
    assert picture.agent(A104) is AgentState.LOGGED_OUT
    d = route(picture, facts(last=KOZLOVA, owner=IVANOVA))
    assert d.routed_by is RoutedBy.OWNER  # 101 is free at the end of trace 07
    assert d.agent == A101


def test_rules_can_prefer_the_owner() -> None:
    d = route(
        all_free(), facts(last=IVANOVA, owner=SIDOROV), Policy(prefer=("owner", "last-agent"))
    )
    assert (d.routed_by, d.agent) == (RoutedBy.OWNER, A102)


def test_rules_can_turn_personal_routing_off() -> None:
    d = route(all_free(), facts(), Policy(prefer=()))
    assert d.routed_by is RoutedBy.QUEUE
    assert d.reason == "Иван Петров: personal routing is off → queue"


def test_last_agent_who_is_the_owner_is_named_once() -> None:
    d = route(free_101(), facts(last=IVANOVA, owner=IVANOVA))
    assert d.routed_by is RoutedBy.PREVIOUS_MANAGER
    assert d.reason == "Ivanova: talked 3 days ago, owner"
    busy = route(talking_101(), facts(last=IVANOVA, owner=IVANOVA))
    assert busy.reason == "Ivanova is on a call → queue"


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=42), "42 minutes ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(days=1, hours=2), "1 day ago"),
        (timedelta(days=89), "89 days ago"),
    ],
)
def test_reason_says_when_they_talked(age: timedelta, text: str) -> None:
    f = RoutingFacts(contact_id=1, last_agent=IVANOVA, last_talked_at=NOW - age)
    assert route(free_101(), f).reason == f"Ivanova: talked {text}"


def test_last_talk_outside_the_lookback_window_is_ignored() -> None:
    d = route(all_free(), facts(days_ago=120))
    assert (d.routed_by, d.agent) == (RoutedBy.OWNER, A103)
    stale = route(all_free(), facts(days_ago=120, owner=None))
    assert stale.routed_by is RoutedBy.QUEUE
    assert stale.reason == "Ivanova: last talked 120 days ago, over 90 days → queue"
    wider = route(all_free(), facts(days_ago=120), Policy(lookback_days=180))
    assert wider.routed_by is RoutedBy.PREVIOUS_MANAGER


def test_last_agent_without_a_date_is_not_a_candidate() -> None:
    f = RoutingFacts(contact_id=1, last_agent=IVANOVA, owner=None)
    d = route(free_101(), f)
    assert d.routed_by is RoutedBy.QUEUE
    assert d.reason == "+79161234567: no recent agent or owner → queue"


def test_known_company_without_managers_goes_to_the_queue() -> None:
    f = RoutingFacts(company_id=7, company_name="ООО Ромашка")
    d = route(all_free(), f)
    assert d.routed_by is RoutedBy.QUEUE
    assert d.reason == "ООО Ромашка: no recent agent or owner → queue"
    assert d.contact_name == "ООО Ромашка"


def test_second_phone_of_a_busy_agent_is_used_when_free() -> None:
    two_phones = AgentRef(1, "Ivanova", (A102, A101))  # 102 rings, 101 is free in trace 02
    picture = all_free()
    d = decide(
        CALLER,
        facts(last=two_phones),
        {A102: AgentState.RINGING, A101: picture.agent(A101)},
        Policy(),
        NOW,
    )
    assert d.agent == A101


def test_interfaces_that_cannot_be_dialed_are_skipped() -> None:
    bad = AgentRef(9, "Broken", ("101, 1, G(evil)",))
    d = route(all_free(), facts(last=bad, owner=None))
    assert d.routed_by is RoutedBy.QUEUE
    assert d.reason == "Broken has no dialable phone → queue"


# --- waiting for a busy manager ---------------------------------------------------------

WAIT = Policy(when_busy="wait", wait_seconds=25, ring_seconds=15)


def test_wait_for_a_manager_on_a_call() -> None:
    d = route(talking_101(), facts(owner=None), WAIT)
    assert d.routed_by is RoutedBy.PREVIOUS_MANAGER
    assert (d.agent, d.wait_seconds, d.ring_seconds) == (A101, 25, 15)
    assert d.reason == "Ivanova is on a call: wait up to 25 s, then queue"
    assert d.why == Reason(
        ReasonKey.MANAGER_BUSY_WAIT,
        {"agent": "Ivanova", "role": "last-agent", "state": "on_call", "seconds": 25},
    )


def test_wait_for_a_ringing_owner() -> None:
    d = route(ringing_102(), facts(last=None, owner=SIDOROV), WAIT)
    assert (d.routed_by, d.agent, d.wait_seconds) == (RoutedBy.OWNER, A102, 25)


def test_wait_for_wrap_up() -> None:
    d = decide(CALLER, facts(owner=None), {A101: AgentState.WRAP_UP}, WAIT, NOW)
    assert d.reason == "Ivanova is in wrap-up: wait up to 25 s, then queue"


def test_never_wait_for_a_paused_or_logged_out_manager() -> None:
    assert route(paused_104(), facts(last=KOZLOVA, owner=None), WAIT).routed_by is RoutedBy.QUEUE
    assert (
        route(logged_out_104(), facts(last=KOZLOVA, owner=None), WAIT).routed_by is RoutedBy.QUEUE
    )


def test_a_free_candidate_beats_waiting() -> None:
    d = route(talking_101_free_103(), facts(), WAIT)
    assert (d.routed_by, d.agent, d.wait_seconds) == (RoutedBy.OWNER, A103, 0)


# --- VIP --------------------------------------------------------------------------------

VIPS = Policy(vip={"vip": 10, "gold": 5})


def test_vip_caller_waits_in_the_queue_with_priority() -> None:
    d = route(talking_101(), facts(owner=None, tags=frozenset({"Gold", "VIP"})), VIPS)
    assert (d.routed_by, d.priority, d.agent) == (RoutedBy.VIP, 10, None)
    assert d.reason == "Ivanova is on a call → queue (VIP, priority 10)"
    assert d.why is not None and d.why.key is ReasonKey.VIP and d.why.values["priority"] == 10


def test_vip_caller_still_goes_to_a_free_manager_keeping_the_priority() -> None:
    d = route(free_101(), facts(tags=frozenset({"gold"})), VIPS)
    assert (d.routed_by, d.agent, d.priority) == (RoutedBy.PREVIOUS_MANAGER, A101, 5)


def test_tags_without_a_priority_change_nothing() -> None:
    d = route(talking_101(), facts(owner=None, tags=frozenset({"wholesale"})), VIPS)
    assert (d.routed_by, d.priority) == (RoutedBy.QUEUE, None)


# --- working hours ----------------------------------------------------------------------

HOURS = {
    "timezone": "Europe/Moscow",
    "mon": "09:00-18:00",
    "tue": "09:00-18:00",
    "wed": "09:00-18:00",
    "thu": ["09:00-13:00", "14:00-18:00"],
    "fri": "09:00-17:00",
    "holidays": ["2026-12-31"],
}


def policy(**extra: object) -> Policy:
    return parse_rules({"hours": HOURS, **extra}).default


@pytest.mark.parametrize(
    ("utc", "open_"),
    [
        (datetime(2026, 11, 26, 9, 30, tzinfo=UTC), True),  # Thu 12:30 MSK
        (datetime(2026, 11, 26, 10, 30, tzinfo=UTC), False),  # Thu 13:30 MSK: lunch
        (datetime(2026, 11, 26, 5, 59, tzinfo=UTC), False),  # Thu 08:59 MSK
        (datetime(2026, 11, 26, 6, 0, tzinfo=UTC), True),  # Thu 09:00 MSK
        (datetime(2026, 11, 27, 14, 0, tzinfo=UTC), False),  # Fri 17:00 MSK: closed at 17
        (datetime(2026, 11, 28, 9, 0, tzinfo=UTC), False),  # Saturday: not listed
        (datetime(2026, 12, 31, 9, 0, tzinfo=UTC), False),  # a holiday (Thursday)
        (datetime(2026, 11, 29, 22, 30, tzinfo=UTC), False),  # Sun 22:30 UTC = Mon 01:30 MSK
    ],
)
def test_working_hours_in_the_lines_time_zone(utc: datetime, open_: bool) -> None:
    d = route(free_101(), facts(), policy(), now=utc)
    assert (d.routed_by is RoutedBy.PREVIOUS_MANAGER) is open_
    if not open_:
        assert d.routed_by is RoutedBy.AFTER_HOURS
        assert d.reason.startswith("after hours (")
        assert "Europe/Moscow) → queue support" in d.reason


def test_after_hours_queue_dial_and_goto() -> None:
    night = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 23:00 MSK
    q = route(
        free_101(), facts(), policy(after_hours={"action": "queue", "queue": "night"}), now=night
    )
    assert (q.routed_by, q.queue, q.agent) == (RoutedBy.AFTER_HOURS, "night", None)
    assert q.reason == "after hours (Thu 23:00 Europe/Moscow) → queue night"
    assert q.why == Reason(
        ReasonKey.AFTER_HOURS_QUEUE,
        {"weekday": 3, "time": "23:00", "timezone": "Europe/Moscow", "queue": "night"},
    )
    dial = route(
        free_101(),
        facts(),
        policy(after_hours={"action": "dial", "dial": "PJSIP/200", "ring_seconds": 45}),
        now=night,
    )
    assert (dial.agent, dial.ring_seconds, dial.routed_by) == (
        "PJSIP/200",
        45,
        RoutedBy.AFTER_HOURS,
    )
    goto = route(
        free_101(),
        facts(),
        policy(after_hours={"action": "goto", "goto": "voicemail,s,1"}),
        now=night,
    )
    assert (goto.goto, goto.agent) == ("voicemail,s,1", None)
    assert goto.contact_id == 4242  # the caller is still identified


def test_after_hours_applies_to_unknown_callers_too() -> None:
    night = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    d = route(free_101(), None, policy(), caller=Caller(None, "", None, anonymous=True), now=night)
    assert d.routed_by is RoutedBy.AFTER_HOURS


# --- callers the CRM cannot help with ---------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        (Caller(None, "", None, anonymous=True), "no caller ID → queue"),
        (Caller(None, "anonymous", None, anonymous=True), "no caller ID → queue"),
        (Caller(None, "abc<>", None), "caller ID abc<> is not a phone number → queue"),
        (Caller(None, "9" * 40, None), f"caller ID {'9' * 31}… is not a phone number → queue"),
    ],
)
def test_unusable_caller_id_goes_to_the_queue(caller: Caller, reason: str) -> None:
    d = route(all_free(), facts(), caller=caller)
    assert (d.routed_by, d.reason, d.agent) == (RoutedBy.UNKNOWN_CALLER, reason, None)


def test_caller_not_in_the_crm_goes_to_the_queue() -> None:
    for nobody in (None, RoutingFacts()):
        d = route(all_free(), nobody)
        assert (d.routed_by, d.reason) == (
            RoutedBy.UNKNOWN_CALLER,
            "+79161234567 is not in the CRM → queue",
        )


def test_crm_too_slow_or_failing_goes_to_the_queue() -> None:
    slow = route(all_free(), FactsUnavailable.TIMEOUT)
    assert (slow.routed_by, slow.reason) == (
        RoutedBy.FACTS_TIMEOUT,
        "CRM did not answer in time → queue",
    )
    broken = route(all_free(), FactsUnavailable.ERROR)
    assert (broken.routed_by, broken.agent) == (RoutedBy.FACTS_ERROR, None)


def test_queue_decisions_use_the_lines_queue() -> None:
    rules = parse_rules({"dids": {"84951234567": {"queue": "sales"}}})
    d = decide(CALLER, None, {}, rules.for_did("+74951234567"), NOW)
    assert d.queue == "sales"


def test_decision_as_json() -> None:
    d = route(talking_101(), facts(owner=None), WAIT)
    assert d.to_json() == {
        "routed_by": "previous-manager",
        "reason": "Ivanova is on a call: wait up to 25 s, then queue",
        "agent": A101,
        "agent_name": "Ivanova",
        "agent_user_id": 1,
        "timeout": 15,
        "wait": 25,
        "queue": "support",
        "priority": None,
        "goto": None,
        "contact_id": 4242,
        "contact_name": "Иван Петров",
        "owner_user_id": None,
    }
