"""A call's phase through the real traces, the pure record builder, member statuses."""

from __future__ import annotations

import dataclasses

import pytest

from kernel.agents import AgentState
from telephony.events import MemberStatus
from telephony.pipeline import EventPipeline
from telephony.records import Disposition
from telephony.reducer import CallPhase
from telephony.reducer.records import build_record
from telephony.replay import load_index
from telephony.state import Agent, Call, Membership
from tests.kit_traces import TRACES
from tests.telephony.test_reducer import feed_until

P = CallPhase


def phases(name: str) -> dict[str, list[CallPhase]]:
    """Every call's phases in the order it went through them, one frame at a time."""
    path = TRACES / name
    data = path.read_bytes()
    index = load_index(path)
    assert index
    pipeline = EventPipeline()
    calls: dict[str, Call] = {}
    seen: dict[str, list[CallPhase]] = {}
    for at, offset, length in index:
        for frame in pipeline.decoder.feed(data[offset : offset + length]):
            pipeline.feed_frames([frame], at)
            calls.update(pipeline.state.calls)  # an ended call leaves the state: keep it
            for linkedid, call in calls.items():
                steps = seen.setdefault(linkedid, [])
                if not steps or steps[-1] is not call.phase:
                    steps.append(call.phase)
    return seen


@pytest.mark.parametrize(
    ("trace", "expected"),
    [
        ("01-queue-answered.ami", [P.DIALPLAN, P.QUEUED, P.CONNECTED, P.ENDED]),
        ("02-queue-abandoned-ringing.ami", [P.DIALPLAN, P.QUEUED, P.ABANDONED, P.ENDED]),
        ("03-fastagi-route-to-102.ami", [P.DIALPLAN, P.RINGING, P.CONNECTED, P.ENDED]),
    ],
)
def test_a_call_goes_through_its_phases(trace: str, expected: list[CallPhase]) -> None:
    assert list(phases(trace).values()) == [expected]


def test_a_click_to_call_dials_out_then_connects() -> None:
    seen = phases("06-ami-actions.ami")
    assert seen["c2c-0001-agent"] == [P.DIALPLAN, P.DIALING, P.CONNECTED, P.ENDED]


def test_a_queued_call_stays_queued_while_its_agents_ring() -> None:
    pipeline, _, _ = feed_until("01-queue-answered.ami", b"Event: AgentCalled")
    (call,) = pipeline.state.calls.values()
    assert call.rings
    assert call.phase is CallPhase.QUEUED


def test_the_load_trace_ends_every_call_answered_or_abandoned() -> None:
    ended = phases("05-load-20-calls.ami").values()
    assert len(ended) == 20
    assert all(steps[-1] is CallPhase.ENDED for steps in ended)
    assert sorted(steps[-2] for steps in ended) == [P.ABANDONED] * 10 + [P.CONNECTED] * 10


def test_the_record_builder_only_reads_the_call() -> None:
    pipeline, _, at = feed_until("01-queue-answered.ami", b"Event: AgentConnect")
    (call,) = pipeline.state.calls.values()
    before = dataclasses.replace(call, steps=list(call.steps), agents=list(call.agents))
    config = pipeline.state.config
    first = build_record(call, at + 30, config, outage=False)
    assert build_record(call, at + 30, config, outage=False) == first
    assert call == before
    assert call.linkedid in pipeline.state.calls
    assert first.disposition is Disposition.ANSWERED
    assert first.talk_seconds == pytest.approx(at + 30 - (call.answered_at or 0.0))
    lost = build_record(call, at + 30, config, outage=True)
    assert [s.kind for s in lost.timeline[-2:]] == ["ended-during-outage", "ended"]


def _agent(*statuses: int) -> Agent:
    agent = Agent("PJSIP/101", device_state="NOT_INUSE")
    for n, status in enumerate(statuses):
        queue = f"q{n}"
        agent.memberships[queue] = Membership(
            queue, "PJSIP/101", "PJSIP/101", "Анна", status, False, "", False, 0, 0, 0
        )
    return agent


def test_a_member_asterisk_cannot_reach_in_any_queue_is_unavailable() -> None:
    # AMI gives `Status` as a plain number: 4 invalid, 5 unavailable.
    assert _agent(4, 5).derive_state(0.0) is AgentState.UNAVAILABLE
    assert _agent(MemberStatus.UNAVAILABLE).derive_state(0.0) is AgentState.UNAVAILABLE
    assert _agent(5, 1).derive_state(0.0) is AgentState.AVAILABLE
    assert _agent(MemberStatus.INUSE).derive_state(0.0) is AgentState.AVAILABLE
