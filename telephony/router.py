"""The call router: caller ID in, routing decision out, within a deadline.

It normalizes the caller, asks the :class:`~routing.source.FactsSource` for the
customer's facts (giving up after ``facts_timeout`` seconds: the call then goes to the
queue and the timeout is counted), reads the live state of the agents those facts
name, applies the rules for the called number and calls the pure ``routing.decide``.
The FastAGI server and ``GET /api/route`` both use it; the facts source can be swapped
while running (``router.source = …``) when the CRM's database-backed one is ready.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Counter as PromCounter

from routing.decide import FactsUnavailable, decide
from routing.decision import Caller, Decision
from routing.facts import RoutingFacts
from routing.rules import RoutingRules
from routing.source import FactsSource
from telephony.reducer import CallState
from telephony.route_memo import RecentDecisions
from telephony.state import AgentState
from trubka.phones import ANONYMOUS, parse

log = logging.getLogger(__name__)

MAX_CALLER_ID = 64  # longer caller IDs are garbage, not numbers

DECISIONS = PromCounter("trubka_routing_decisions", "Routing decisions made", ["routed_by"])
FACTS_TIMEOUTS = PromCounter(
    "trubka_routing_facts_timeouts", "CRM facts not available within the deadline"
)
FACTS_ERRORS = PromCounter("trubka_routing_facts_errors", "CRM facts lookups that failed")


@dataclass(slots=True)
class RouterStats:
    decisions: Counter[str] = field(default_factory=Counter)
    facts_timeouts: int = 0
    facts_errors: int = 0


class CallRouter:
    def __init__(
        self,
        source: FactsSource,
        live: CallState,
        rules: RoutingRules,
        *,
        region: str = "RU",
        facts_timeout: float = 0.3,
        clock: Callable[[], float] = time.time,
        memo: RecentDecisions | None = None,
    ) -> None:
        self.source = source
        self.live = live
        self.rules = rules
        self.region = region
        self.facts_timeout = facts_timeout
        self.clock = clock
        self.memo = memo if memo is not None else RecentDecisions()
        self.stats = RouterStats()

    def caller(self, raw_number: str | None, did: str | None = None) -> Caller:
        raw = " ".join("".join(c for c in (raw_number or "") if c.isprintable()).split())
        did_clean = " ".join((did or "").split())[:MAX_CALLER_ID] or None
        if len(raw) > MAX_CALLER_ID:
            return Caller(None, raw[:MAX_CALLER_ID] + "…", did_clean)
        if raw.lower() in ANONYMOUS:
            return Caller(None, raw, did_clean, anonymous=True)
        return Caller(parse(raw, self.region).e164, raw, did_clean)

    async def facts_for(self, number: str) -> RoutingFacts | FactsUnavailable | None:
        try:
            async with asyncio.timeout(self.facts_timeout):
                return await self.source.lookup(number)
        except TimeoutError:
            self.stats.facts_timeouts += 1
            FACTS_TIMEOUTS.inc()
            log.warning(
                "routing: CRM facts for %s not ready in %.0f ms: queue",
                number,
                self.facts_timeout * 1000,
            )
            return FactsUnavailable.TIMEOUT
        except Exception:
            self.stats.facts_errors += 1
            FACTS_ERRORS.inc()
            log.exception("routing: CRM facts lookup for %s failed: queue", number)
            return FactsUnavailable.ERROR

    def presence(
        self, facts: RoutingFacts | FactsUnavailable | None, now: float
    ) -> dict[str, AgentState]:
        out: dict[str, AgentState] = {}
        if isinstance(facts, RoutingFacts):
            for ref in (facts.last_agent, facts.owner):
                if ref is not None:
                    for interface in ref.interfaces:
                        out[interface] = self.live.agent_state(interface, now)
        return out

    async def route(
        self,
        raw_caller: str | None,
        did: str | None,
        *,
        uniqueid: str | None = None,
    ) -> Decision:
        caller = self.caller(raw_caller, did)
        facts = await self.facts_for(caller.number) if caller.number else None
        now = self.clock()
        decision = decide(
            caller,
            facts,
            self.presence(facts, now),
            self.rules.for_did(caller.did),
            datetime.fromtimestamp(now, UTC),
        )
        self.stats.decisions[decision.routed_by.value] += 1
        DECISIONS.labels(decision.routed_by.value).inc()
        if uniqueid:
            channel = self.live.channels.get(uniqueid)
            self.memo.remember(
                decision, uniqueid=uniqueid, linkedid=channel.linkedid if channel else None
            )
        return decision
