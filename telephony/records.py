"""The call record, as telephony produces it: the one type and serializer live in
`kernel.call_record` (schema in docs/architecture.md, "Call record"); they are
re-exported here for the code that builds records from AMI events."""

from __future__ import annotations

from kernel.call_record import (
    CallRecord,
    CallStep,
    Direction,
    Disposition,
    iso,
    record_json,
    to_datetime,
)

__all__ = [
    "CallRecord",
    "CallStep",
    "Direction",
    "Disposition",
    "iso",
    "record_json",
    "to_datetime",
]
