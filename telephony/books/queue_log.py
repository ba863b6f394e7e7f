"""Asterisk's `queue_log`: lines in, finished queue calls out (pure, no I/O).

A line is `time|callid|queue|agent|event|data1|data2|…` (app_queue's `ast_queue_log`).
The callid is the unique id of the caller's channel; `agent` is the member's name as
logged (`Agent 201`, or the interface with `log_membername_as_agent`). The events that
close a caller's stay in the queue, with their data fields:

| event | data |
|---|---|
| `ENTERQUEUE` | url, caller id, position |
| `CONNECT` | hold time, the member channel's unique id, ring time |
| `COMPLETECALLER`, `COMPLETEAGENT` | hold time, talk time, original position |
| `BLINDTRANSFER` | extension, context, hold time, talk time, original position |
| `ATTENDEDTRANSFER` | method and its targets…, hold time, talk time, original position |
| `ABANDON`, `EXITWITHTIMEOUT`, `EXITEMPTY` | position, original position, wait time |
| `EXITWITHKEY` | key, position, original position, wait time |
| `RINGNOANSWER`, `RINGCANCELED` | ring time in milliseconds |

Times in the first column are UNIX seconds (whole seconds, as Asterisk writes them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class QueueOutcome(StrEnum):
    ANSWERED = "answered"  # connected to a member (then completed or transferred)
    ABANDONED = "abandoned"  # the caller hung up while waiting
    TIMEOUT = "timeout"  # the queue's timeout passed (EXITWITHTIMEOUT)
    EMPTY = "empty"  # no member could take it (EXITEMPTY)
    KEY = "key"  # the caller pressed a key to leave (EXITWITHKEY)


_EXITS = {
    "ABANDON": QueueOutcome.ABANDONED,
    "EXITWITHTIMEOUT": QueueOutcome.TIMEOUT,
    "EXITEMPTY": QueueOutcome.EMPTY,
    "EXITWITHKEY": QueueOutcome.KEY,
}
_COMPLETIONS = ("COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER")
NO_AGENT = "NONE"


@dataclass(frozen=True, slots=True)
class QueueLogEntry:
    time: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


def parse_line(line: str) -> QueueLogEntry | None:
    """One line of queue_log, or None when it is not one (blank, torn, garbage)."""
    parts = line.rstrip("\r\n").split("|")
    if len(parts) < 5 or not parts[4]:
        return None
    try:
        when = float(parts[0])
    except ValueError:
        return None
    return QueueLogEntry(when, parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))


@dataclass(frozen=True, slots=True)
class QueueCall:
    """One caller's stay in one queue, as queue_log tells it."""

    callid: str
    queue: str
    caller: str | None
    entered_at: float
    ended_at: float
    outcome: QueueOutcome
    agent: str | None = None  # the member who answered, as logged
    member_uniqueid: str | None = None  # the answering member channel's unique id
    connected_at: float | None = None
    wait_seconds: float = 0.0
    talk_seconds: float = 0.0
    transferred_to: str | None = None  # BLINDTRANSFER's extension@context
    rang: tuple[str, ...] = ()  # members that rang without answering


def _number(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0


@dataclass(slots=True)
class _Open:
    callid: str
    queue: str
    caller: str | None
    entered_at: float
    agent: str | None = None
    member_uniqueid: str | None = None
    connected_at: float | None = None
    hold: float = 0.0
    rang: list[str] = field(default_factory=list)


class QueueCallAssembler:
    """Feeds queue_log entries in file order; returns each caller's stay once it ends.

    A stay whose ENTERQUEUE was read before (an earlier chunk of the file) is kept in
    `open` until its end arrives; a closing line whose ENTERQUEUE was never seen (the file
    was read from the middle) still yields a call, entered at the time its wait implies.
    """

    def __init__(self) -> None:
        self.open: dict[tuple[str, str], _Open] = {}

    def feed(self, entries: Iterable[QueueLogEntry]) -> list[QueueCall]:
        done: list[QueueCall] = []
        for entry in entries:
            call = self._feed(entry)
            if call is not None:
                done.append(call)
        return done

    def _feed(self, e: QueueLogEntry) -> QueueCall | None:
        key = (e.callid, e.queue)
        if e.event == "ENTERQUEUE":
            caller = e.data[1] if len(e.data) > 1 and e.data[1] else None
            self.open[key] = _Open(e.callid, e.queue, caller, e.time)
            return None
        stay = self.open.get(key)
        if e.event in ("RINGNOANSWER", "RINGCANCELED"):
            if stay is not None and e.agent != NO_AGENT and e.agent not in stay.rang:
                stay.rang.append(e.agent)
            return None
        if e.event == "CONNECT":
            if stay is None:
                hold = _number(e.data[0] if e.data else None)
                stay = self.open[key] = _Open(e.callid, e.queue, None, e.time - hold)
            stay.agent = e.agent
            stay.member_uniqueid = e.data[1] if len(e.data) > 1 and e.data[1] else None
            stay.connected_at = e.time
            stay.hold = _number(e.data[0] if e.data else None)
            return None
        if e.event in _COMPLETIONS:
            return self._completed(e, self.open.pop(key, None))
        outcome = _EXITS.get(e.event)
        if outcome is not None:
            return self._left(e, outcome, self.open.pop(key, None))
        return None

    @staticmethod
    def _completed(e: QueueLogEntry, stay: _Open | None) -> QueueCall:
        # The last three fields are hold time, talk time and the original position.
        hold = _number(e.data[-3]) if len(e.data) >= 3 else 0.0
        talk = _number(e.data[-2]) if len(e.data) >= 2 else 0.0
        connected = stay.connected_at if stay and stay.connected_at is not None else e.time - talk
        transferred = None
        if e.event == "BLINDTRANSFER" and len(e.data) >= 2:
            transferred = f"{e.data[0]}@{e.data[1]}"
        return QueueCall(
            callid=e.callid,
            queue=e.queue,
            caller=stay.caller if stay else None,
            entered_at=stay.entered_at if stay else connected - hold,
            ended_at=e.time,
            outcome=QueueOutcome.ANSWERED,
            agent=stay.agent if stay and stay.agent else e.agent,
            member_uniqueid=stay.member_uniqueid if stay else None,
            connected_at=connected,
            wait_seconds=stay.hold if stay else hold,
            talk_seconds=talk,
            transferred_to=transferred,
            rang=tuple(a for a in (stay.rang if stay else ()) if a != e.agent),
        )

    @staticmethod
    def _left(e: QueueLogEntry, outcome: QueueOutcome, stay: _Open | None) -> QueueCall:
        wait = _number(e.data[-1]) if e.data else 0.0
        return QueueCall(
            callid=e.callid,
            queue=e.queue,
            caller=stay.caller if stay else None,
            entered_at=stay.entered_at if stay else e.time - wait,
            ended_at=e.time,
            outcome=outcome,
            wait_seconds=wait,
            rang=tuple(stay.rang) if stay else (),
        )


def queue_calls(lines: Iterable[str]) -> list[QueueCall]:
    """Every finished stay in a queue_log text, in the order they ended."""
    entries = (entry for entry in map(parse_line, lines) if entry is not None)
    return QueueCallAssembler().feed(entries)
