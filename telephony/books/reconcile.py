"""Trubka's stored calls against Asterisk's books: every difference, per call (pure).

The books' record of a call (`telephony.books.records`) is the reference. A stored
call the books do not have is `extra` (a spy session stored as a call is one); a call
of the books Trubka has not stored is `missing`. For the calls both have: the
disposition, the agent (the same person by either of Asterisk's names for them, see
`kernel.agents`, or by the member name queue_log logs), and, where queue_log times the
call (queue calls), the wait and the talk, beyond `tolerance` seconds.

Which calls the books can vouch for depends on which books are read: with the CDR,
every call; with queue_log alone, queue calls only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from kernel.agents import same_agent
from telephony.records import CallRecord


class DifferenceKind(StrEnum):
    MISSING = "missing"
    EXTRA = "extra"
    DISPOSITION = "disposition"
    AGENT = "agent"
    WAIT = "wait"
    TALK = "talk"


@dataclass(frozen=True, slots=True)
class Difference:
    linkedid: str
    kind: DifferenceKind
    trubka: Any = None
    asterisk: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "kind": self.kind.value,
            "trubka": self.trubka,
            "asterisk": self.asterisk,
        }

    def __str__(self) -> str:
        if self.kind is DifferenceKind.MISSING:
            return f"{self.linkedid}: in Asterisk's books, not in Trubka"
        if self.kind is DifferenceKind.EXTRA:
            return f"{self.linkedid}: in Trubka, not in Asterisk's books"
        values = f"Trubka {self.trubka!r}, Asterisk {self.asterisk!r}"
        return f"{self.linkedid}: {self.kind.value}: {values}"


def _agent_matches(stored: Mapping[str, Any], books: CallRecord) -> bool:
    ours = [stored.get("agent_interface"), *(stored.get("agents") or ())]
    ours += list(stored.get("agent_aliases") or ())
    names = [n for n in ours if n]
    if books.agent_interface and any(same_agent(n, books.agent_interface) for n in names):
        return True
    if books.agent_name and stored.get("agent_name") == books.agent_name:
        return True
    return books.agent_interface is None and books.agent_name is None and not names


def differences(
    stored: Iterable[Mapping[str, Any]],
    books: Iterable[CallRecord],
    *,
    cdr_read: bool,
    tolerance: float = 1.0,
) -> list[Difference]:
    """Differences between stored call records (their JSON) and the books' records."""
    ours = {c["linkedid"]: c for c in stored}
    theirs = {r.linkedid: r for r in books}
    found: list[Difference] = []
    for linkedid, record in theirs.items():
        call = ours.get(linkedid)
        if call is None:
            found.append(Difference(linkedid, DifferenceKind.MISSING, None, record.to_json()))
            continue
        if call.get("disposition") != record.disposition.value:
            found.append(
                Difference(
                    linkedid,
                    DifferenceKind.DISPOSITION,
                    call.get("disposition"),
                    record.disposition.value,
                )
            )
        if not _agent_matches(call, record):
            found.append(
                Difference(
                    linkedid,
                    DifferenceKind.AGENT,
                    call.get("agent_interface"),
                    record.agent_interface or record.agent_name,
                )
            )
        if record.queue is not None:
            for kind, key, value in (
                (DifferenceKind.WAIT, "wait_seconds", record.wait_seconds),
                (DifferenceKind.TALK, "talk_seconds", record.talk_seconds),
            ):
                if abs(float(call.get(key) or 0.0) - value) > tolerance:
                    found.append(Difference(linkedid, kind, call.get(key), round(value, 3)))
    for linkedid, call in ours.items():
        if linkedid in theirs:
            continue
        if cdr_read or call.get("queue"):
            found.append(Difference(linkedid, DifferenceKind.EXTRA, _brief(call), None))
    return sorted(found, key=lambda d: (d.linkedid, d.kind.value))


def _brief(call: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("direction", "caller_number", "called_number", "queue", "disposition", "started_at")
    return {k: call.get(k) for k in keys}


def in_period(
    records: Sequence[CallRecord], since: datetime, until: datetime | None = None
) -> list[CallRecord]:
    start = since.timestamp()
    end = until.timestamp() if until is not None else float("inf")
    return [r for r in records if start <= r.started_at < end]
