"""What travels on the event bus besides the reducer's domain events.

`CallsStored` is published by the call writer after it committed a batch of call
records; the consumers that need the calls *in the database* (contact linking, callback
tasks, report rollups) subscribe to it instead of to `CallEnded`. Who consumes which
event is listed in one place, the composition root (`trubka.wiring`).
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.domain import DomainEvent
from telephony.records import CallRecord


@dataclass(frozen=True, slots=True)
class CallsStored:
    """One committed batch of call records (a duplicate `linkedid` the store refused is
    still listed: it is in the database either way)."""

    records: tuple[CallRecord, ...]


BusEvent = DomainEvent | CallsStored
"""Everything published on the bus."""
