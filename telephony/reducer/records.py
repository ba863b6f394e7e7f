"""From a live call to its call record: pure, no state but the call and the config."""

from __future__ import annotations

from kernel.phones import normalize
from telephony.records import CallRecord, CallStep, Direction, Disposition
from telephony.reducer.call_state import ReducerConfig
from telephony.reducer.codes import DIAL_FAILED, QUEUE_NO_ANSWER, DialStatus
from telephony.reducer.numbers import direction_of
from telephony.state import Call, CallPhase


def disposition_of(call: Call, direction: Direction) -> Disposition:
    """How the call went, from the phase it ended in and what Asterisk said last."""
    if call.phase is CallPhase.CONNECTED:
        return Disposition.ANSWERED
    if not call.any_up and not call.dialed_anyone and call.queue is None:
        return Disposition.FAILED
    status = call.last_dial_status
    if direction is Direction.INBOUND:
        if call.phase is CallPhase.ABANDONED:
            return Disposition.ABANDONED
        if call.queue is not None:
            if call.queue_status in QUEUE_NO_ANSWER:
                return Disposition.NO_ANSWER
            return Disposition.ABANDONED
        if status == DialStatus.BUSY:
            return Disposition.BUSY
        if status == DialStatus.NOANSWER:
            return Disposition.NO_ANSWER
        if status in DIAL_FAILED:
            return Disposition.FAILED
        return Disposition.ABANDONED
    if status == DialStatus.BUSY:
        return Disposition.BUSY
    if status in DIAL_FAILED:
        return Disposition.FAILED
    return Disposition.NO_ANSWER


def build_record(
    call: Call,
    at: float,
    config: ReducerConfig,
    *,
    outage: bool,
    agent_aliases: tuple[str, ...] = (),
) -> CallRecord:
    """The record of a call that ended at `at` (its last channel gone, or lost in an outage).

    `call` is read as it ended: its phase is the one it ended in, not yet ``ENDED``;
    `agent_aliases` are the answering agent's other names.
    """
    direction = direction_of(config, call)
    disposition = disposition_of(call, direction)
    region = config.region
    caller_number = normalize(call.caller_num, region)
    caller_name = call.caller_name
    if direction is Direction.OUTBOUND:
        # The agent's side calls, the customer is called (as on an inbound call the
        # customer calls): never the dialled number twice.
        called_number = normalize(call.outbound_number, region)
        if call.dialer_num is not None or call.dialer_name is not None:
            caller_number = normalize(call.dialer_num, region)
            caller_name = call.dialer_name
    else:
        called_number = normalize(call.dialed_exten, region) if call.dialed_exten else None
    end_of_wait = call.answered_at if call.answered_at is not None else at
    talk_end = call.talk_end if call.talk_end is not None else at
    routed_by = call.routed_by
    if routed_by is None:
        if call.route_agent:
            routed_by = "agi"
        elif call.queue is not None:
            routed_by = "queue"
    steps = list(call.steps)
    if outage:
        steps.append(CallStep(at, "ended-during-outage", "closed when AMI came back"))
    steps.append(CallStep(at, "ended", disposition.value))
    return CallRecord(
        linkedid=call.linkedid,
        direction=direction,
        caller_number=caller_number,
        caller_name=caller_name,
        called_number=called_number,
        queue=call.queue,
        agent_interface=call.agent_interface,
        agent_name=call.agent_name,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=at,
        wait_seconds=max(0.0, end_of_wait - call.started_at),
        talk_seconds=max(0.0, talk_end - call.answered_at) if call.answered_at is not None else 0.0,
        disposition=disposition,
        routed_by=routed_by,
        routing_reason=call.routing_reason,
        routed_agent=call.route_agent,
        recording_file=call.recording_file,
        queue_hold_seconds=call.queue_hold,
        queue_talk_seconds=call.queue_talk,
        agents=tuple(call.agents),
        agent_aliases=agent_aliases,
        contact_id=call.contact_id,
        ended_during_outage=outage,
        timeline=tuple(steps),
        pbx=config.pbx,
    )
