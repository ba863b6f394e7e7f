"""Call records from Asterisk's books, for calls Trubka did not see live (pure).

A call is one CDR `linkedid` and the queue_log stays of its caller. Where the two say
the same thing, queue_log wins (it has the moment an agent answered; the CDR's
`answer` is the moment the dialplan answered the trunk). A supervisor's spy session
(`ChanSpy`) is not a call.

What the books cannot tell, and a backfilled record therefore lacks: the routing
decision, the caller's name when the CDR has none, and, for a call answered outside a
queue after the dialplan answered the trunk, the exact moment the agent answered (the
CDR's answer time is then the trunk's: such a call's wait is 0 and its talk includes
the agent's ring time).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kernel.call_record import DEFAULT_PBX, SOURCE_BACKFILL
from kernel.phones import digits_of, is_anonymous, normalize
from telephony.books.cdr import ANSWERED, CdrCall, CdrRow
from telephony.books.queue_log import QueueCall, QueueOutcome
from telephony.records import CallRecord, Direction, Disposition
from telephony.state import interface_of

SPY_APPLICATIONS = frozenset({"ChanSpy", "ExtenSpy"})
_CLID = re.compile(r'^\s*"?(?P<name>.*?)"?\s*<(?P<number>[^>]*)>\s*$')
_CDR_DISPOSITIONS = {
    "NO ANSWER": Disposition.NO_ANSWER,
    "BUSY": Disposition.BUSY,
    "FAILED": Disposition.FAILED,
    "CONGESTION": Disposition.FAILED,
}
RecordingFor = Callable[[str], str | None]  # a channel's unique id -> its recording, if any


@dataclass(frozen=True, slots=True)
class BooksConfig:
    region: str = "RU"
    internal_max_digits: int = 5
    pbx: str = DEFAULT_PBX  # the Asterisk whose books these are (TRUBKA_PBXES)


def caller_name(clid: str, number: str) -> str | None:
    """`"Иван Петров" <+7916…>` → `Иван Петров`; None when the name is only the number."""
    match = _CLID.match(clid)
    name = (match.group("name") if match else "").strip()
    return name if name and name != number and not is_anonymous(name) else None


def _internal(number: str, config: BooksConfig) -> bool:
    digits = digits_of(number)
    return 0 < len(digits) <= config.internal_max_digits and len(digits) == len(number.strip())


def is_spy_session(call: CdrCall) -> bool:
    return any(row.lastapp in SPY_APPLICATIONS for row in call.rows)


def _no_recording(_uniqueid: str) -> str | None:
    return None


def records_from_books(
    stays: Iterable[QueueCall],
    cdr_calls: Iterable[CdrCall],
    config: BooksConfig,
    recording_for: RecordingFor = _no_recording,
) -> list[CallRecord]:
    """One record per call the books show, spy sessions left out, in order of start."""
    calls = {c.linkedid: c for c in cdr_calls if not is_spy_session(c)}
    spied = {row.uniqueid for c in cdr_calls if is_spy_session(c) for row in c.rows}
    linked_by_unique = {row.uniqueid: c.linkedid for c in calls.values() for row in c.rows}
    stays_of: dict[str, list[QueueCall]] = {}
    for stay in stays:
        if stay.callid in spied:
            continue
        linkedid = linked_by_unique.get(stay.callid, stay.callid)
        stays_of.setdefault(linkedid, []).append(stay)
    records = [
        _record(linkedid, calls.get(linkedid), stays_of.get(linkedid, []), config, recording_for)
        for linkedid in {*calls, *stays_of}
    ]
    return sorted(records, key=lambda r: (r.started_at, r.linkedid))


def _record(
    linkedid: str,
    cdr: CdrCall | None,
    stays: Sequence[QueueCall],
    config: BooksConfig,
    recording_for: RecordingFor,
) -> CallRecord:
    first: CdrRow | None = cdr.first if cdr else None
    answered_stay = next((s for s in stays if s.outcome is QueueOutcome.ANSWERED), None)
    stay = answered_stay or (stays[-1] if stays else None)
    source = (first.src if first else None) or (stay.caller if stay else None) or ""
    destination = first.dst if first else ""
    direction = Direction.INBOUND
    if source and _internal(source, config):
        internal_target = not destination or _internal(destination, config)
        direction = Direction.INTERNAL if internal_target else Direction.OUTBOUND
    answered_row = cdr.answered if cdr else None
    agents = tuple(
        dict.fromkeys(
            interface_of(row.dstchannel)
            for row in (cdr.rows if cdr else ())
            if row.disposition == ANSWERED and row.dstchannel
        )
    )
    started = min([*([cdr.started_at.timestamp()] if cdr else []), *(s.entered_at for s in stays)])
    if answered_stay is not None:
        answered_at: float | None = answered_stay.connected_at
        ended = max(answered_stay.ended_at, cdr.ended_at.timestamp() if cdr else 0.0)
        talk = answered_stay.talk_seconds
        disposition = Disposition.ANSWERED
    elif answered_row is not None:
        # Outside a queue; on an inbound call the CDR's answer may be the dialplan's.
        answered_at = answered_row.answer.timestamp() if answered_row.answer else None
        ended = cdr.ended_at.timestamp() if cdr else started
        talk = float(answered_row.billsec)
        disposition = Disposition.ANSWERED
    else:
        answered_at = None
        ended = max([*([cdr.ended_at.timestamp()] if cdr else []), *(s.ended_at for s in stays)])
        talk = 0.0
        disposition = _unanswered(first, stays, direction)
    wait = (answered_at if answered_at is not None else ended) - started
    # MixMonitor names the file by the caller channel's unique id (queue_log's callid).
    caller_uniqueid = first.uniqueid if first is not None else (stay.callid if stay else "")
    agent_interface = agents[0] if agents else None
    if direction is not Direction.INBOUND and first is not None:
        agent_interface = interface_of(first.channel)
    return CallRecord(
        linkedid=linkedid,
        pbx=config.pbx,
        direction=direction,
        caller_number=normalize(source, config.region) if source else None,
        caller_name=caller_name(first.clid, source) if first else None,
        called_number=normalize(destination, config.region) if destination else None,
        queue=stay.queue if stay else None,
        agent_interface=agent_interface if disposition is Disposition.ANSWERED else None,
        agent_name=answered_stay.agent if answered_stay else None,
        started_at=started,
        answered_at=answered_at,
        ended_at=ended,
        wait_seconds=max(0.0, wait),
        talk_seconds=max(0.0, talk),
        disposition=disposition,
        recording_file=recording_for(caller_uniqueid) if caller_uniqueid else None,
        queue_hold_seconds=round(stay.wait_seconds) if stay else None,
        queue_talk_seconds=round(answered_stay.talk_seconds) if answered_stay else None,
        agents=agents if disposition is Disposition.ANSWERED else (),
        source=SOURCE_BACKFILL,
    )


def _unanswered(
    first: CdrRow | None, stays: Sequence[QueueCall], direction: Direction
) -> Disposition:
    if stays:
        # As live (QUEUESTATUS): a queue that timed out or had nobody is no-answer; a
        # caller who hung up (or pressed a key to leave) abandoned.
        if stays[-1].outcome in (QueueOutcome.TIMEOUT, QueueOutcome.EMPTY):
            return Disposition.NO_ANSWER
        return Disposition.ABANDONED
    if direction is Direction.INBOUND:
        return Disposition.ABANDONED
    if first is None:
        return Disposition.FAILED
    return _CDR_DISPOSITIONS.get(first.disposition, Disposition.NO_ANSWER)
