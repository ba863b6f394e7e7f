"""The call record: what one finished call leaves behind, and its one JSON form.

The fields and their JSON are the contract of docs/architecture.md ("Call record"):
`trubka calls --json`, the stored `calls` rows and the CRM's views all print them
through `record_json`, so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class Disposition(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class CallStep:
    """One step of a call's timeline: `at` is seconds since the epoch."""

    at: float
    kind: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "kind": self.kind, "detail": self.detail}


SOURCE_AMI = "ami"
SOURCE_BACKFILL = "backfill"
# The PBX of a call when Trubka serves one Asterisk (TRUBKA_AMI_*); with several
# (TRUBKA_PBXES) each record carries its PBX's name, and calls are unique by
# (pbx, linkedid): two Asterisks' linkedids may collide.
DEFAULT_PBX = "default"


@dataclass(frozen=True, slots=True)
class CallRecord:
    linkedid: str
    direction: Direction
    caller_number: str | None
    caller_name: str | None
    called_number: str | None
    queue: str | None
    agent_interface: str | None
    agent_name: str | None
    started_at: float
    answered_at: float | None
    ended_at: float
    wait_seconds: float
    talk_seconds: float
    disposition: Disposition
    routed_by: str | None = None
    routing_reason: str | None = None
    recording_file: str | None = None
    queue_hold_seconds: int | None = None  # as Asterisk reports it (AgentConnect/Abandon)
    queue_talk_seconds: int | None = None  # as Asterisk reports it (AgentComplete)
    agents: tuple[str, ...] = ()  # every agent interface that talked with the caller
    # The answering agent's other names (FreePBX's member `Local/201@from-queue/n` rings
    # the phone `PJSIP/201`): whichever Asterisk uses, it is the same person.
    agent_aliases: tuple[str, ...] = ()
    contact_id: int | None = None
    ended_during_outage: bool = False
    timeline: tuple[CallStep, ...] = field(default=())
    routed_agent: str | None = None  # ROUTE_AGENT: whom the routing sent the call to first
    source: str = SOURCE_AMI  # SOURCE_AMI: seen live; SOURCE_BACKFILL: from Asterisk's books
    pbx: str = DEFAULT_PBX  # which Asterisk the call was on (TRUBKA_PBXES)

    def to_json(self, *, with_timeline: bool = False) -> dict[str, Any]:
        data = record_json(self)
        if with_timeline:
            data["timeline"] = [step.to_json() for step in self.timeline]
        return data


class RecordFields(Protocol):
    """What `record_json` reads: a `CallRecord`, or a stored row of the `calls` table
    (there the times are aware datetimes and the enums plain strings)."""

    @property
    def linkedid(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def caller_number(self) -> str | None: ...
    @property
    def caller_name(self) -> str | None: ...
    @property
    def called_number(self) -> str | None: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def agent_interface(self) -> str | None: ...
    @property
    def agent_name(self) -> str | None: ...
    @property
    def started_at(self) -> float | datetime: ...
    @property
    def answered_at(self) -> float | datetime | None: ...
    @property
    def ended_at(self) -> float | datetime: ...
    @property
    def wait_seconds(self) -> float: ...
    @property
    def talk_seconds(self) -> float: ...
    @property
    def disposition(self) -> str: ...
    @property
    def routed_by(self) -> str | None: ...
    @property
    def routing_reason(self) -> str | None: ...
    @property
    def recording_file(self) -> str | None: ...
    @property
    def queue_hold_seconds(self) -> int | None: ...
    @property
    def queue_talk_seconds(self) -> int | None: ...
    @property
    def agents(self) -> Any: ...  # a tuple, a list, or None for an old row
    @property
    def agent_aliases(self) -> Any: ...  # a tuple, a list, or None for an old row
    @property
    def contact_id(self) -> int | None: ...
    @property
    def ended_during_outage(self) -> bool: ...
    @property
    def source(self) -> str: ...


def record_json(record: RecordFields, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The call record's fields in the contract's order, added to `data` (after what it
    holds already, e.g. a stored row's `id`) or to a new dict, which is returned."""
    if data is None:
        data = {}
    answered_at = record.answered_at
    data["linkedid"] = record.linkedid
    data["direction"] = str(record.direction)
    data["caller_number"] = record.caller_number
    data["caller_name"] = record.caller_name
    data["called_number"] = record.called_number
    data["queue"] = record.queue
    data["agent_interface"] = record.agent_interface
    data["agent_name"] = record.agent_name
    data["started_at"] = _iso_at(record.started_at)
    data["answered_at"] = _iso_at(answered_at) if answered_at is not None else None
    data["ended_at"] = _iso_at(record.ended_at)
    data["wait_seconds"] = round(record.wait_seconds, 3)
    data["talk_seconds"] = round(record.talk_seconds, 3)
    data["disposition"] = str(record.disposition)
    data["routed_by"] = record.routed_by
    data["routing_reason"] = record.routing_reason
    key = getattr(record, "routing_reason_key", _ABSENT)
    if key is not _ABSENT:  # a stored call keeps the structured reason beside the text
        data["routing_reason_key"] = key
        data["routing_reason_values"] = getattr(record, "routing_reason_values", None)
    data["recording_file"] = record.recording_file
    data["queue_hold_seconds"] = record.queue_hold_seconds
    data["queue_talk_seconds"] = record.queue_talk_seconds
    data["agents"] = list(record.agents or ())
    data["agent_aliases"] = list(record.agent_aliases or ())
    data["contact_id"] = record.contact_id
    data["ended_during_outage"] = record.ended_during_outage
    data["source"] = record.source
    pbx = getattr(record, "pbx", DEFAULT_PBX) or DEFAULT_PBX
    if pbx != DEFAULT_PBX:  # the one-PBX record stays as it always was
        data["pbx"] = pbx
    return data


_ABSENT = object()


def _iso_at(value: float | datetime) -> str:
    return iso(value.timestamp() if isinstance(value, datetime) else value)


def iso(ts: float) -> str:
    """ISO-8601 in UTC with milliseconds: `2026-11-26T18:29:26.236+00:00`."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
