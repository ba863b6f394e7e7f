"""What travels on the event bus besides the reducer's domain events.

`CallsStored` is published by the call writer after it committed a batch of call
records; the consumers that need the calls *in the database* (contact linking, callback
tasks, report rollups) subscribe to it instead of to `CallEnded`. Who consumes which
event is listed in one place, the composition root (`trubka.wiring`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telephony.domain import DomainEvent
from telephony.records import CallRecord


@dataclass(frozen=True, slots=True)
class CallsStored:
    """One committed batch of call records (a duplicate `linkedid` the store refused is
    still listed: it is in the database either way).

    `customers` is filled by contact linking, the first handler of `crm-after-store`
    (`crm.linking.link_records`): (linkedid, pbx) → (contact_id, company_id) of every
    call of the batch, so the handlers after it (callback tasks) skip the calls of no
    known customer without reading them back. Empty until linking ran."""

    records: tuple[CallRecord, ...]
    customers: dict[tuple[str, str], tuple[int | None, int | None]] = field(
        default_factory=dict, compare=False, repr=False
    )


BusEvent = DomainEvent | CallsStored
"""Everything published on the bus."""
