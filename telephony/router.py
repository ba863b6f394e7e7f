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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter as PromCounter

from kernel.agents import AgentState
from kernel.phones import ANONYMOUS, PhoneNumber, parse
from routing.decide import FactsUnavailable, decide
from routing.decision import Caller, Decision
from routing.facts import RoutingFacts
from routing.rules import RoutingRules
from routing.source import FactsSource
from telephony.pbx_routing import PbxRouting
from telephony.reducer import CallState
from telephony.route_memo import RecentDecisions

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
        parse_number: Callable[[str, str], PhoneNumber] = parse,
    ) -> None:
        self.source = source
        self.live = live
        self.rules = rules
        self.region = region
        self.facts_timeout = facts_timeout
        self.clock = clock
        self.memo = memo if memo is not None else RecentDecisions()
        # Phone-number validation: `kernel.phones.parse` (cached), or a faster exact one
        # the composition root passes in (the CRM's validator for Russian numbers).
        self.parse_number = parse_number
        self.stats = RouterStats()
        self._decision_counters: dict[str, Any] = {}
        # Several PBXes (telephony.pbx_routing): each agent's state comes from the PBX
        # their phone is on, and ROUTE_AGENT is what the asking PBX can dial.
        self.pbxes: PbxRouting | None = None

    @staticmethod
    def _did(did: str | None) -> str | None:
        return " ".join((did or "").split())[:MAX_CALLER_ID] or None

    def caller(self, raw_number: str | None, did: str | None = None) -> Caller:
        raw = " ".join("".join(c for c in (raw_number or "") if c.isprintable()).split())
        did_clean = self._did(did)
        if len(raw) > MAX_CALLER_ID:
            return Caller(None, raw[:MAX_CALLER_ID] + "…", did_clean)
        if raw.lower() in ANONYMOUS:
            return Caller(None, raw, did_clean, anonymous=True)
        return Caller(self.parse_number(raw, self.region).e164, raw, did_clean)

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
        self, facts: RoutingFacts | FactsUnavailable | None, now: float, pbx: str | None = None
    ) -> dict[str, AgentState]:
        out: dict[str, AgentState] = {}
        if not isinstance(facts, RoutingFacts):
            return out
        pbxes = self.pbxes
        if pbxes is None:  # one PBX: its live state, as before several were routed
            agent_state = self.live.agent_state
            for ref in (facts.last_agent, facts.owner):
                if ref is not None:
                    for interface in ref.interfaces:
                        out[interface] = agent_state(interface, now)
            return out
        asking = pbxes.known(pbx)
        for ref in (facts.last_agent, facts.owner):
            if ref is not None:
                for interface in ref.interfaces:
                    out[interface] = pbxes.state(interface, now, asking)
        return out

    def live_of(self, pbx: str | None) -> CallState:
        """The live state of the asking PBX (the primary's without several)."""
        if self.pbxes is None:
            return self.live
        return self.pbxes.states.get(self.pbxes.known(pbx), self.live)

    def across(self, decision: Decision, pbx: str | None) -> Decision:
        """The decision with ROUTE_AGENT as the asking PBX dials it."""
        if self.pbxes is None or not decision.agent:
            return decision
        dial = self.pbxes.dial(decision.agent, self.pbxes.known(pbx))
        return decision if dial == decision.agent else replace(decision, agent=dial)

    def _candidate(self, raw: str) -> str | None:
        """A cheap E.164 guess for the usual caller IDs (`+7…`, `7…`/`8…` in Russia)."""
        if raw.startswith("+") and raw[1:].isdigit() and 8 <= len(raw) <= 16:
            return raw
        if self.region == "RU" and len(raw) == 11 and raw.isdigit() and raw[0] in "78":
            return "+7" + raw[1:]
        return None

    async def route(
        self,
        raw_caller: str | None,
        did: str | None,
        *,
        uniqueid: str | None = None,
        at: float | None = None,
        rules: RoutingRules | None = None,
        count: bool = True,
        pbx: str | None = None,
    ) -> Decision:
        """The decision for a call, counted and remembered under the channel's `uniqueid`.
        With ``count=False`` (what :meth:`decide` asks) a decision that changes nothing:
        a preview at another time (`at`, the live state being now's) or with other rules.
        One coroutine on the hot path: the FastAGI handler awaits this one directly.
        `pbx` names the asking PBX (several PBXes): the agent's state is read on the PBX
        their phone is on, and ROUTE_AGENT is what the asking one dials."""
        # Known callers first: the CRM stores valid E.164 numbers, so a hit on the cheap
        # guess needs no full phone-number validation (the slow part of routing).
        guess = self._candidate(raw_caller.strip()) if raw_caller else None
        facts: RoutingFacts | FactsUnavailable | None = None
        if guess is not None:
            facts = await self.facts_for(guess)
        if isinstance(facts, RoutingFacts):
            caller = Caller(guess, raw_caller.strip() if raw_caller else "", self._did(did))
        else:
            caller = self.caller(raw_caller, did)
            if caller.number is None:
                facts = None
            elif caller.number != guess and not isinstance(facts, FactsUnavailable):
                facts = await self.facts_for(caller.number)
        now = self.clock()
        decision = decide(
            caller,
            facts,
            self.presence(facts, now, pbx),
            (rules or self.rules).for_did(caller.did),
            datetime.fromtimestamp(now if at is None else at, UTC),
        )
        if self.pbxes is not None:
            decision = self.across(decision, pbx)
        if not count:
            return decision
        routed_by = decision.routed_by.value
        self.stats.decisions[routed_by] += 1
        counter = self._decision_counters.get(routed_by)
        if counter is None:
            counter = self._decision_counters[routed_by] = DECISIONS.labels(routed_by)
        counter.inc()
        if uniqueid:
            live = self.live if self.pbxes is None else self.live_of(pbx)
            channel = live.channels.get(uniqueid)
            self.memo.remember(
                decision, uniqueid=uniqueid, linkedid=channel.linkedid if channel else None
            )
        return decision

    async def decide(
        self,
        raw_caller: str | None,
        did: str | None,
        *,
        at: float | None = None,
        rules: RoutingRules | None = None,
        pbx: str | None = None,
    ) -> Decision:
        """The decision for a call, not counted or remembered: what :meth:`route` gives
        now with the current rules, or a preview at another time (`at`, the live state
        being now's) or with other rules."""
        return await self.route(raw_caller, did, at=at, rules=rules, count=False, pbx=pbx)
