"""The call record: what one finished call leaves behind (schema in ARCHITECTURE.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


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
    contact_id: int | None = None
    ended_during_outage: bool = False
    timeline: tuple[CallStep, ...] = field(default=())
    routed_agent: str | None = None  # ROUTE_AGENT: whom the routing sent the call to first

    def to_json(self, *, with_timeline: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "linkedid": self.linkedid,
            "direction": self.direction.value,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "called_number": self.called_number,
            "queue": self.queue,
            "agent_interface": self.agent_interface,
            "agent_name": self.agent_name,
            "started_at": iso(self.started_at),
            "answered_at": iso(self.answered_at) if self.answered_at is not None else None,
            "ended_at": iso(self.ended_at),
            "wait_seconds": round(self.wait_seconds, 3),
            "talk_seconds": round(self.talk_seconds, 3),
            "disposition": self.disposition.value,
            "routed_by": self.routed_by,
            "routing_reason": self.routing_reason,
            "recording_file": self.recording_file,
            "queue_hold_seconds": self.queue_hold_seconds,
            "queue_talk_seconds": self.queue_talk_seconds,
            "agents": list(self.agents),
            "contact_id": self.contact_id,
            "ended_during_outage": self.ended_during_outage,
        }
        if with_timeline:
            data["timeline"] = [step.to_json() for step in self.timeline]
        return data


def iso(ts: float) -> str:
    """ISO-8601 in UTC with milliseconds: `2026-11-26T18:29:26.236+00:00`."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
