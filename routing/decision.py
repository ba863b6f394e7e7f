"""What `routing.decide` returns: where a call goes, and why, in plain values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


class ReasonKey(StrEnum):
    """What a reason says, whatever the language (`routing.reasons` has the wordings).

    The values each key carries are listed beside it. `role` is "last-agent" or "owner",
    `state` an :class:`~kernel.agents.AgentState` value, `ago` whole seconds since the last
    answered call, `weekday` 0 (Monday) to 6; `parts` (of `queue` and `vip`) is a list of
    the reasons marked *part*, as ``{"key": …, "values": {…}}``.
    """

    PREVIOUS_MANAGER_FREE = "previous_manager_free"  # agent, ago
    PREVIOUS_MANAGER_OWNER_FREE = "previous_manager_owner_free"  # agent, ago (also the owner)
    OWNER_FREE = "owner_free"  # agent
    MANAGER_BUSY_WAIT = "manager_busy_wait"  # agent, role, state, seconds
    QUEUE = "queue"  # parts
    VIP = "vip"  # parts, priority
    AFTER_HOURS = "after_hours"  # weekday, time, timezone, to (an interface or destination)
    AFTER_HOURS_QUEUE = "after_hours_queue"  # weekday, time, timezone, queue
    NO_CALLER_ID = "no_caller_id"
    CALLER_ID_NOT_A_NUMBER = "caller_id_not_a_number"  # caller_id
    NOT_IN_CRM = "not_in_crm"  # number
    CRM_TIMEOUT = "crm_timeout"
    CRM_ERROR = "crm_error"
    # parts: why a candidate was not taken, or why there was none
    MANAGER_BUSY = "manager_busy"  # agent, role, state
    NO_DIALABLE_PHONE = "no_dialable_phone"  # agent, role
    LAST_TALK_TOO_OLD = "last_talk_too_old"  # agent, ago, days (the look-back window)
    NO_RECENT_MANAGER = "no_recent_manager"  # who (the contact, company or number)
    PERSONAL_ROUTING_OFF = "personal_routing_off"  # who


PARTS = frozenset(
    {
        ReasonKey.MANAGER_BUSY,
        ReasonKey.NO_DIALABLE_PHONE,
        ReasonKey.LAST_TALK_TOO_OLD,
        ReasonKey.NO_RECENT_MANAGER,
        ReasonKey.PERSONAL_ROUTING_OFF,
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a call went where it went: a key and its values (plain JSON values, so the
    reason can be stored with the call and rendered later in any language)."""

    key: ReasonKey
    values: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def parts(self) -> tuple[Reason, ...]:
        """The parts of a `queue` or `vip` reason (none for the others)."""
        return tuple(Reason.from_json(part) for part in self.values.get("parts", ()))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key.value, "values": dict(self.values)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        """A reason back from :meth:`to_json` (ValueError: not one of the known keys)."""
        return cls(ReasonKey(data["key"]), dict(data.get("values") or {}))


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
    queue, used by after-hours rules. `reason` is `why` rendered in English by
    `routing.reasons`.
    """

    routed_by: RoutedBy
    reason: str  # `why` in English: ROUTE_REASON, the call record's `routing_reason`
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
    why: Reason | None = None  # the reason as a key and values (every decision of `decide`)

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
