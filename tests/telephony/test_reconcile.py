"""Reconciling stored calls with the books: each kind of difference, and none."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from telephony.books.reconcile import DifferenceKind, differences
from telephony.records import CallRecord, Direction, Disposition


def _books() -> CallRecord:
    return CallRecord(
        linkedid="1796520475.0",
        direction=Direction.INBOUND,
        caller_number="+79161110001",
        caller_name="Иван Петров",
        called_number="+74951234567",
        queue="support",
        agent_interface="PJSIP/201",
        agent_name="Agent 201",
        started_at=1796520475.0,
        answered_at=1796520476.0,
        ended_at=1796520480.0,
        wait_seconds=1.0,
        talk_seconds=4.0,
        disposition=Disposition.ANSWERED,
    )


def _stored(**changes: Any) -> dict[str, Any]:
    stored = _books().to_json() | {"wait_seconds": 1.037, "talk_seconds": 3.2}
    return stored | changes


def test_the_same_call_has_no_difference() -> None:
    assert differences([_stored()], [_books()], cdr_read=True) == []


def test_a_freepbx_member_is_the_same_agent_as_its_phone() -> None:
    stored = _stored(agent_interface="Local/201@from-queue/n", agents=["Local/201@from-queue/n"])
    books = replace(_books(), agent_interface="Local/201@from-queue")
    assert differences([stored], [books], cdr_read=True) == []
    only_name = replace(_books(), agent_interface=None)
    assert differences([stored], [only_name], cdr_read=False) == []


def test_each_kind_of_difference() -> None:
    stored = _stored(
        disposition="abandoned", agent_interface="PJSIP/202", agents=[], agent_name="Agent 202",
        wait_seconds=0.0, talk_seconds=6.5,
    )  # fmt: skip
    kinds = [d.kind for d in differences([stored], [_books()], cdr_read=True)]
    assert kinds == [
        DifferenceKind.AGENT,
        DifferenceKind.DISPOSITION,
        DifferenceKind.TALK,
    ]  # the wait differs by exactly 1.0 s: within the tolerance


def test_missing_and_extra_calls() -> None:
    spy = _stored(linkedid="1796520510.16", queue=None, disposition="abandoned")
    found = differences([spy], [_books()], cdr_read=True)
    assert [(d.linkedid, d.kind) for d in found] == [
        ("1796520475.0", DifferenceKind.MISSING),
        ("1796520510.16", DifferenceKind.EXTRA),
    ]
    assert "not in Asterisk's books" in str(found[1])


def test_without_the_cdr_only_queue_calls_can_be_extra() -> None:
    direct = _stored(linkedid="1796520489.6", queue=None)
    assert differences([direct], [], cdr_read=False) == []
    assert differences([direct], [], cdr_read=True)[0].kind is DifferenceKind.EXTRA
