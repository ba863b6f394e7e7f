"""The bounded, expiring memo of routing decisions for the screen pop."""

from __future__ import annotations

import pytest

from routing.decision import Decision, Reason, ReasonKey, RoutedBy
from telephony.route_memo import RecentDecisions, said


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decision(reason: str) -> Decision:
    return Decision(RoutedBy.OWNER, reason, "support", agent="PJSIP/101")


def test_found_by_linkedid_or_any_uniqueid() -> None:
    memo = RecentDecisions(clock=Clock())
    memo.remember(decision("owner Petrov"), uniqueid="1.2", linkedid="1.1")
    memo.remember(decision("unknown"), uniqueid="2.2")
    assert memo.routing_reason("1.1") == "owner Petrov"
    assert memo.routing_reason(None, ["9.9", "1.2"]) == "owner Petrov"
    assert memo.routing_reason("2.1", ["2.2"]) == "unknown"
    assert memo.find("3.1", ["3.2"]) is None
    assert len(memo) == 3


def test_entries_expire() -> None:
    clock = Clock()
    memo = RecentDecisions(ttl=60, clock=clock)
    memo.remember(decision("a"), uniqueid="1.2", linkedid="1.1")
    clock.now += 59
    assert memo.get("1.1") is not None
    clock.now += 2
    assert memo.get("1.1") is None
    memo.remember(decision("b"), uniqueid="2.2")
    assert len(memo) == 1  # expired ones are dropped on the way


def test_size_is_bounded_oldest_first() -> None:
    memo = RecentDecisions(maxlen=100, clock=Clock())
    for n in range(1000):
        memo.remember(decision(str(n)), uniqueid=f"{n}.2", linkedid=f"{n}.1")
    assert len(memo) == 100
    assert memo.routing_reason("999.1") == "999"
    assert memo.get("1.1") is None


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        RecentDecisions(maxlen=0)
    with pytest.raises(ValueError):
        RecentDecisions(ttl=0)


def test_the_structured_reason_only_for_what_the_pbx_said() -> None:
    why = Reason(ReasonKey.OWNER_FREE, {"agent": "Petrov\x07"})
    routed = Decision(RoutedBy.OWNER, "owner Petrov\x07: responsible manager", "q", why=why)
    memo = RecentDecisions(clock=Clock())
    memo.remember(routed, uniqueid="1.2", linkedid="1.1")
    memo.remember(decision("made by hand"), uniqueid="2.1")
    assert said(routed) == "owner Petrov: responsible manager"  # as ROUTE_REASON carries it
    assert memo.reason("1.1") == why
    assert memo.reason(None, ["1.2"], said_as="owner Petrov: responsible manager") == why
    assert memo.reason("1.1", said_as=routed.reason) == why
    assert memo.reason("1.1", said_as="sent by the night script") is None
    assert memo.reason("1.1", said_as="owner Petrov") is None
    assert memo.reason("2.1") is None  # a decision without a structured reason
    assert memo.reason("3.1") is None
