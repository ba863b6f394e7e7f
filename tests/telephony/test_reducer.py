"""The reducer's live picture from the real traces: agents, queues, ringing, resync."""

from __future__ import annotations

from pathlib import Path

from kernel.agents import AgentState, interface_key
from telephony import domain as d
from telephony.codec import AmiDecoder
from telephony.events import CoreShowChannel, QueueMemberInfo, parse_event
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState, Reducer, Resync
from telephony.replay import load_index
from telephony.state import interface_of, leg_of
from tests.kit_traces import TRACES


def feed_until(
    name: str, stop: bytes | None = None, occurrence: int = 1
) -> tuple[EventPipeline, list[d.DomainEvent], float]:
    """Feed a trace with its original timing, stopping after the read that completes the
    `occurrence`-th frame containing `stop`."""
    path = TRACES / name
    data = path.read_bytes()
    index = load_index(path)
    assert index
    limit = len(data)
    if stop is not None:
        pos = -1
        for _ in range(occurrence):
            pos = data.index(stop, pos + 1)
        limit = data.index(b"\r\n\r\n", pos) + 4
    pipeline = EventPipeline()
    effects: list[d.DomainEvent] = []
    at = 0.0
    for at, offset, length in index:
        if offset >= limit:
            break
        effects += pipeline.feed(data[offset : offset + length], at)
    return pipeline, effects, at


def test_interface_helpers() -> None:
    assert interface_of("Local/101@agents-00000001;1") == "Local/101@agents"
    assert interface_of("PJSIP/101-0000000a") == "PJSIP/101"
    assert leg_of("Local/101@agents-00000001;2") == "Local/101@agents-00000001"
    assert leg_of("PJSIP/trunk-0000000b") == "PJSIP/trunk-0000000b"
    assert interface_key("Local/101@agents/n") == "Local/101@agents"


def test_agent_ringing_then_on_call_then_free() -> None:
    pipeline, effects, at = feed_until("01-queue-answered.ami", b"Event: AgentCalled")
    state = pipeline.state
    assert state.agent_state("Local/101@agents/n", at) is AgentState.RINGING
    ringing = [e for e in effects if isinstance(e, d.AgentRinging)]
    assert len(ringing) == 1
    assert ringing[0].agent == "Local/101@agents"
    assert ringing[0].caller_number == "+79160000001"
    assert ringing[0].caller_name == "Customer 79160000001"
    assert ringing[0].queue == "support"
    assert ringing[0].direction == "inbound"
    queued = state.queues["support"].entries
    assert len(queued) == 1

    pipeline, effects, at = feed_until("01-queue-answered.ami", b"Event: AgentConnect")
    assert pipeline.state.agent_state("Local/101@agents", at) is AgentState.ON_CALL
    assert not pipeline.state.queues["support"].entries
    left = [e for e in effects if isinstance(e, d.CallLeftQueue)]
    assert [e.reason for e in left] == ["answered"]
    answered = [e for e in effects if isinstance(e, d.CallAnswered)]
    assert answered[0].agent_name == "Agent 101"

    pipeline, effects, at = feed_until("01-queue-answered.ami")
    assert pipeline.state.agent_state("Local/101@agents", at) is AgentState.AVAILABLE
    assert not pipeline.state.calls
    assert not pipeline.state.channels


def test_ring_all_style_withdrawals_when_the_caller_gives_up() -> None:
    _, effects, _ = feed_until("02-queue-abandoned-ringing.ami")
    ended = [(e.agent, e.reason) for e in effects if isinstance(e, d.AgentRingEnded)]
    assert ended == [
        ("Local/102@agents", "no_answer"),
        ("Local/103@agents", "no_answer"),
        ("Local/101@agents", "caller_hung_up"),
    ]
    left = [e.reason for e in effects if isinstance(e, d.CallLeftQueue)]
    assert left == ["abandoned"]


def test_paused_member_with_reason_from_trace_07() -> None:
    pipeline, effects, at = feed_until("07-queue-member-pause.ami", b"PausedReason: lunch")
    state = pipeline.state
    agent = state.agent_for("Local/101@agents/n")
    assert agent is not None
    assert agent.memberships["support"].paused
    assert agent.paused_reason == "lunch"
    assert state.agent_state("Local/101@agents", at) is AgentState.PAUSED
    changes = [
        e for e in effects if isinstance(e, d.AgentStateChanged) and e.agent == "Local/101@agents"
    ]
    assert changes[-1].state == "paused" and changes[-1].paused_reason == "lunch"
    pipeline, _, at = feed_until("07-queue-member-pause.ami", b"Event: QueueMemberRemoved")
    assert "sales" not in pipeline.state.agent_for("Local/104@agents/n").memberships  # type: ignore[union-attr]
    assert pipeline.state.agent_state("Local/104@agents", at) is AgentState.LOGGED_OUT


def test_routed_direct_dial_pops_for_the_agent() -> None:
    _, effects, _ = feed_until("03-fastagi-route-to-102.ami", b"Event: DialBegin", occurrence=2)
    ringing = [e for e in effects if isinstance(e, d.AgentRinging)]
    assert [(e.agent, e.queue) for e in ringing] == [("Local/102@agents", None)]
    routed = [e for e in effects if isinstance(e, d.CallRouted)]
    assert routed[0].route_agent == "102"


def test_events_for_unknown_channels_are_counted_not_fatal() -> None:
    data = (TRACES / "01-queue-answered.ami").read_bytes()
    tail = data[len(data) // 2 :]
    tail = tail[tail.index(b"\r\n\r\n") + 4 :]
    pipeline = EventPipeline(decoder=AmiDecoder(expect_banner=False))
    effects = pipeline.feed(tail, 1.0)
    assert not [e for e in effects if isinstance(e, d.CallEnded)]  # started before we listened
    assert pipeline.state.stats.unknown_channel > 0


def test_out_of_order_frames_do_not_break_other_calls() -> None:
    data = (TRACES / "05-load-20-calls.ami").read_bytes()
    frames = data.split(b"\r\n\r\n")
    # Swap every pair of adjacent frames in the middle third.
    third = len(frames) // 3
    for i in range(third, 2 * third, 2):
        frames[i], frames[i + 1] = frames[i + 1], frames[i]
    pipeline = EventPipeline()
    ended = [e for e in pipeline.feed(b"\r\n\r\n".join(frames), 1.0) if isinstance(e, d.CallEnded)]
    assert len(ended) == 20
    assert not pipeline.state.calls


def _snapshot_channels(pipeline: EventPipeline) -> tuple[CoreShowChannel, ...]:
    from telephony.events import ChannelSnapshot

    return tuple(
        CoreShowChannel(
            channel=ChannelSnapshot(
                c.name,
                c.uniqueid,
                c.linkedid,
                c.state,
                c.caller_num,
                c.caller_name,
                None,
                None,
                c.context,
                c.exten,
            ),
            application="Queue",
            application_data="support",
            duration_seconds=5,
            bridge_id=c.bridge_id or "",
        )
        for c in pipeline.state.channels.values()
    )


def test_resync_closes_calls_that_ended_while_away_and_keeps_the_rest() -> None:
    pipeline, _, at = feed_until("05-load-20-calls.ami", b"Event: AgentConnect", occurrence=2)
    state = pipeline.state
    before = set(state.calls)
    assert len(before) == 20
    channels = _snapshot_channels(pipeline)
    # Pretend three calls hung up while we were disconnected.
    gone = sorted(before)[:3]
    survivors = tuple(c for c in channels if c.channel.linkedid not in gone)
    members = tuple(
        QueueMemberInfo(
            "support",
            f"Local/{n}@agents/n",
            f"Local/{n}@agents/n",
            f"Agent {n}",
            2,
            False,
            "",
            False,
            0,
            0,
            0,
            2,
            0,
            "static",
        )
        for n in (101, 102, 103)
    )
    effects = Reducer(state).apply(
        Resync(channels=survivors, members=members, since=at - 1), at + 5
    )
    ended = [e.record for e in effects if isinstance(e, d.CallEnded)]
    assert sorted(r.linkedid for r in ended) == gone
    assert all(r.ended_during_outage and r.ended_at == at - 1 for r in ended)
    assert set(state.calls) == before - set(gone)
    # A second resync with the same picture changes nothing and duplicates nothing.
    again = Reducer(state).apply(Resync(channels=survivors, members=members, since=at + 6), at + 7)
    assert not [e for e in again if isinstance(e, d.CallEnded)]
    assert set(state.calls) == before - set(gone)


def test_resync_after_asterisk_restart_closes_everything_and_learns_new_calls() -> None:
    pipeline, _, at = feed_until("01-queue-answered.ami", b"Event: AgentConnect")
    state = pipeline.state
    assert len(state.calls) == 1
    other, _, _ = feed_until("08-cyrillic-callerid.ami", b"Event: BridgeEnter", occurrence=2)
    fresh = _snapshot_channels(other)  # a call that started while we were away
    effects = Reducer(state).apply(Resync(channels=fresh, members=(), since=at), at + 10)
    ended = [e.record for e in effects if isinstance(e, d.CallEnded)]
    assert [r.linkedid for r in ended] == ["1795717766.0"]
    assert ended[0].disposition.value == "answered"
    assert list(state.calls) == ["1795718139.0"]
    call = state.calls["1795718139.0"]
    assert call.resynced and not call.partial
    assert call.started_at == at + 10 - 5
    # The agent leg in the caller's bridge is recognised as the answering agent.
    assert call.answered_at == at + 10
    assert call.agent == "Local/101@agents"
    assert state.agent_state("Local/101@agents", at + 10) is AgentState.ON_CALL


def test_a_call_resync_found_talking_gets_asterisk_s_answer_time_queue_and_hold() -> None:
    """The standby taking over AMI (or a restart) finds a call already bridged: its answer
    moment is unknown until AgentComplete tells the talk time (as queue_log books it)."""
    pipeline, _, at = feed_until("01-queue-answered.ami", b"Event: AgentConnect")
    state = pipeline.state  # knows agent Local/101@agents
    other, _, _ = feed_until("08-cyrillic-callerid.ami", b"Event: BridgeEnter", occurrence=2)
    Reducer(state).apply(Resync(channels=_snapshot_channels(other), members=(), since=at), 100.0)
    call = state.calls["1795718139.0"]
    assert call.answered_at == 100.0  # guessed at the resync
    assert call.queue == "support"  # the caller's channel runs Queue(support)
    data = (TRACES / "08-cyrillic-callerid.ami").read_bytes()
    start = data.index(b"Event: AgentComplete")
    frame = next(iter(AmiDecoder().feed(data[start : data.index(b"\r\n\r\n", start) + 4])))
    Reducer(state).apply(parse_event(frame), 120.0)  # TalkTime 11, HoldTime 3, support
    assert call.answered_at == 120.0 - 11
    assert (call.queue, call.queue_hold, call.queue_talk) == ("support", 3, 11)


def test_every_known_event_parses_from_every_trace() -> None:
    count = 0
    for path in sorted(Path(TRACES).glob("*.ami")):
        decoder = AmiDecoder()
        for frame in decoder.feed(path.read_bytes()):
            parse_event(frame)
            count += 1
        assert decoder.stats.malformed == 0
    assert count > 4000


def test_reducer_state_is_the_object_it_was_given() -> None:
    from telephony.events import NewChannel
    from telephony.reducer import reduce

    state = CallState()
    from telephony.events import ChannelSnapshot

    snap = ChannelSnapshot(
        "PJSIP/trunk-00000001",
        "9.1",
        "9.1",
        4,
        "+74951234567",
        "Иван",
        None,
        None,
        "from-trunk",
        "4951234567",
    )
    new_state, effects = reduce(state, NewChannel(snap), 10.0)
    assert new_state is state
    assert isinstance(effects[0], d.CallStarted)
