"""The plain facts a routing decision is made from (no I/O here).

The CRM gathers them for a caller (`crm.routing_facts`), the FastAGI handler passes them
to `routing.decide` together with who is free right now, the rules and `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AgentRef:
    """A user who can take calls: their id, display name and dialable interfaces."""

    user_id: int
    name: str
    interfaces: tuple[str, ...]  # e.g. ("PJSIP/101",) or ("Local/101@agents/n",); first preferred


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    """What the CRM knows about a caller that matters for routing."""

    contact_id: int | None = None
    contact_name: str | None = None
    company_id: int | None = None
    company_name: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    owner: AgentRef | None = None  # the contact's (or else its company's) responsible manager
    last_agent: AgentRef | None = None  # last agent with an answered call with the contact/company
    last_talked_at: datetime | None = None

    @property
    def known(self) -> bool:
        return self.contact_id is not None or self.company_id is not None
