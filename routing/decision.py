"""What `routing.decide` returns: where a call goes, and why, in plain values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RoutedBy(StrEnum):
    """Machine-readable cause of a decision; stored as the call record's `routed_by`."""

    PREVIOUS_MANAGER = "previous-manager"  # the agent who last talked with the customer
    OWNER = "owner"  # the contact's (or its company's) responsible manager
    QUEUE = "queue"  # a known caller whose managers are not free (or none apply)
    VIP = "vip"  # to the queue with a raised priority for a tagged customer
    AFTER_HOURS = "after-hours"  # outside the working hours of the DID/queue
    UNKNOWN_CALLER = "unknown-caller"  # no usable caller ID, or not in the CRM
    FACTS_TIMEOUT = "facts-timeout"  # the CRM did not answer within the deadline
    FACTS_ERROR = "facts-error"  # the CRM lookup failed


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller as routing sees it.

    `number` is E.164 when the caller ID parsed as a valid number, else None; `raw` is
    what the PBX sent (already stripped, possibly empty); `did` the called number.
    """

    number: str | None
    raw: str = ""
    did: str | None = None
    anonymous: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a call goes.

    `agent` is a dialable interface (None: the queue takes the call). `ring_seconds` is
    how long to ring it; `wait_seconds` > 0 means the agent is busy and the dialplan
    waits up to that long (with music) for them to come free before dialing. `queue`
    is the queue the call falls through to, with `priority` as QUEUE_PRIO when set.
    `goto` is a dialplan destination (`context,exten,priority`) that replaces the
    queue, used by after-hours rules.
    """

    routed_by: RoutedBy
    reason: str
    queue: str
    agent: str | None = None
    agent_name: str | None = None
    agent_user_id: int | None = None
    ring_seconds: int = 0
    wait_seconds: int = 0
    priority: int | None = None
    goto: str | None = None
    contact_id: int | None = None
    contact_name: str | None = None
    owner_user_id: int | None = None  # who owns a missed call when no agent was chosen

    @property
    def to_agent(self) -> bool:
        return self.agent is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "routed_by": self.routed_by.value,
            "reason": self.reason,
            "agent": self.agent,
            "agent_name": self.agent_name,
            "agent_user_id": self.agent_user_id,
            "timeout": self.ring_seconds if self.agent else None,
            "wait": self.wait_seconds or None,
            "queue": self.queue,
            "priority": self.priority,
            "goto": self.goto,
            "contact_id": self.contact_id,
            "contact_name": self.contact_name,
            "owner_user_id": self.owner_user_id,
        }
