"""Where routing facts come from: the :class:`FactsSource` port and an in-memory source.

The FastAGI handler and ``GET /api/route`` ask a ``FactsSource`` for the facts of a
caller (an E.164 number) and give it a deadline. The CRM's database-backed source
(``crm.routing_facts``) implements the same protocol; :class:`InMemoryFactsSource`
serves tests, benchmarks and a Trubka running before the CRM is configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from routing.facts import RoutingFacts


@runtime_checkable
class FactsSource(Protocol):
    async def lookup(self, e164: str) -> RoutingFacts | None:
        """The facts for a caller, or None when the CRM does not know the number."""
        ...


class InMemoryFactsSource:
    """Facts held in a dict keyed by E.164 number."""

    __slots__ = ("_facts", "lookups")

    def __init__(
        self, facts: Mapping[str, RoutingFacts] | Iterable[tuple[str, RoutingFacts]] = ()
    ) -> None:
        self._facts: dict[str, RoutingFacts] = dict(facts)
        self.lookups = 0

    def __len__(self) -> int:
        return len(self._facts)

    def add(self, e164: str, facts: RoutingFacts) -> None:
        self._facts[e164] = facts

    def remove(self, e164: str) -> None:
        self._facts.pop(e164, None)

    async def lookup(self, e164: str) -> RoutingFacts | None:
        self.lookups += 1
        return self._facts.get(e164)
