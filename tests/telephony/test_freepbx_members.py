"""FreePBX-style queue members are one agent whichever name Asterisk uses (issue 16,
item 8): the member `Local/201@from-queue/n` rings the phone `PJSIP/201` (its state
interface, and the channel its `;2` half dials); the ring, the answer and the record
name the member, and the phone is an alias of it.

`tests/traces/lab/f*.ami`: recorded on the real Asterisk 22.10.1 with the FreePBX-like
dialplan (see the shared traces' README, "FreePBX-style queues").
"""

from __future__ import annotations

from pathlib import Path

from telephony import domain as d
from telephony.pipeline import EventPipeline
from telephony.replay import load_index
from telephony.state import Agent

LAB = Path(__file__).resolve().parents[1] / "traces" / "lab"


def replay(name: str) -> tuple[EventPipeline, list[d.DomainEvent]]:
    path = LAB / name
    data = path.read_bytes()
    pipeline = EventPipeline()
    events: list[d.DomainEvent] = []
    for at, offset, length in load_index(path):
        events += pipeline.feed(data[offset : offset + length], at)
    return pipeline, events


def agent_events(events: list[d.DomainEvent]) -> list[tuple[str, str]]:
    wanted = (d.AgentRinging, d.AgentRingEnded, d.CallAnswered)
    return [(type(e).__name__, e.agent) for e in events if isinstance(e, wanted)]


def test_queue_member_answers_as_one_agent() -> None:
    pipeline, events = replay("f1-fpbx-queue-answered-201.ami")
    # One ring (the member's; its Local channel dialing the phone is the same ring),
    # answered by that agent: no ring of `PJSIP/201` "answered elsewhere".
    assert agent_events(events) == [
        ("AgentRinging", "Local/201@from-queue"),
        ("CallAnswered", "Local/201@from-queue"),
    ]
    (ended,) = [e for e in events if isinstance(e, d.CallEnded)]
    assert ended.record.agent_interface == "Local/201@from-queue/n"
    assert ended.record.agents == ("Local/201@from-queue/n",)
    # The record names the phone too, as the shared traces' expected records do.
    assert ended.record.agent_aliases == ("PJSIP/201",)
    assert ended.record.to_json()["agent_aliases"] == ["PJSIP/201"]
    state = pipeline.state
    assert state.names_of("PJSIP/201") == ["Local/201@from-queue", "PJSIP/201"]
    assert state.names_of("Local/201@from-queue/n") == ["Local/201@from-queue", "PJSIP/201"]
    assert state.agent_for("PJSIP/201") is state.agent_for("Local/201@from-queue/n")
    assert "PJSIP/201" not in state.agents


def test_routed_dial_of_a_member_learns_the_phone_behind_it() -> None:
    """`Dial(Local/202@from-queue/n)` from the routing, no queue and no QueueMemberStatus
    before the ring: the phone its `;2` half dials is the same agent all the same."""
    pipeline, events = replay("f2-fpbx-routed-local-202.ami")
    assert agent_events(events) == [
        ("AgentRinging", "Local/202@from-queue"),
        ("CallAnswered", "Local/202@from-queue"),
    ]
    (ended,) = [e for e in events if isinstance(e, d.CallEnded)]
    assert ended.record.agent_interface == "Local/202@from-queue"
    assert ended.record.agent_aliases == ("PJSIP/202",)
    assert pipeline.state.names_of("PJSIP/202") == ["Local/202@from-queue", "PJSIP/202"]


def test_abandoned_while_ringing_ends_the_one_ring() -> None:
    _, events = replay("f4-fpbx-abandon-ringing.ami")
    rings = agent_events(events)
    assert rings[0] == ("AgentRinging", "Local/202@from-queue")
    assert [r for r in rings if r[0] == "AgentRingEnded"] == [
        ("AgentRingEnded", "Local/202@from-queue")
    ]
    assert not any(isinstance(e, d.CallAnswered) for e in events)


def test_the_caller_hanging_up_on_a_trunk_ends_the_ring_as_caller_hung_up() -> None:
    """On a SIP trunk Asterisk cancels the queue's dial (`DialEnd CANCEL`) before the
    caller's `Hangup`; its `HangupRequest` comes first and says the caller left."""
    _, events = replay("f4-fpbx-abandon-ringing.ami")
    (ended,) = [e for e in events if isinstance(e, d.AgentRingEnded)]
    assert ended.reason == "caller_hung_up"
    (call,) = [e for e in events if isinstance(e, d.CallEnded)]
    assert call.record.disposition == "abandoned"
    # The ring ended at the `DialEnd CANCEL`, before the caller's channel was gone.
    assert ended.at < call.record.ended_at


def test_a_hangup_request_from_the_agents_side_is_not_the_caller_leaving() -> None:
    """Only the caller's channel says the caller left: the same trace without the
    trunk's requests ends the ring as nobody answering (the `DialEnd CANCEL` alone)."""
    path = LAB / "f4-fpbx-abandon-ringing.ami"
    data = path.read_bytes()
    frames = data.split(b"\r\n\r\n")
    kept = [f for f in frames if not (b"HangupRequest\r\n" in f and b"Channel: PJSIP/trunk-" in f)]
    assert len(frames) - len(kept) == 2  # the trunk's HangupRequest and SoftHangupRequest
    last = load_index(path)[-1][0]
    events = EventPipeline().feed(b"\r\n\r\n".join(kept), last)  # each frame has its Timestamp
    (ended,) = [e for e in events if isinstance(e, d.AgentRingEnded)]
    assert ended.reason == "no_answer"
    assert [e.record.disposition for e in events if isinstance(e, d.CallEnded)] == ["abandoned"]


def test_users_configured_by_phone_see_one_agent() -> None:
    """The CRM's users are configured by their phones (`known_agents`): the phone seen
    alone before its member (its device state) is dropped once it is known as an alias,
    and the member's ring and answer are still the member's."""
    path = LAB / "f1-fpbx-queue-answered-201.ami"
    data = path.read_bytes()
    pipeline = EventPipeline()
    state = pipeline.state
    state.known_agents = {"PJSIP/201", "PJSIP/202", "PJSIP/203"}
    state.agents["PJSIP/201"] = Agent(key="PJSIP/201")  # its device state came first
    events: list[d.DomainEvent] = []
    for at, offset, length in load_index(path):
        events += pipeline.feed(data[offset : offset + length], at)
    assert agent_events(events) == [
        ("AgentRinging", "Local/201@from-queue"),
        ("CallAnswered", "Local/201@from-queue"),
    ]
    assert "PJSIP/201" not in state.agents
    assert state.agent_for("PJSIP/201") is state.agents["Local/201@from-queue"]
    # The trunk is nobody's alias (only the phone the member's Local channel dialed).
    assert set(state.aliases) == {"PJSIP/201"}
