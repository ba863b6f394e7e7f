"""The call router: caller normalization, one facts look-up where one suffices."""

from __future__ import annotations

import asyncio

import pytest

from routing.facts import RoutingFacts
from routing.rules import RoutingRules
from routing.source import InMemoryFactsSource
from telephony.reducer import CallState
from telephony.router import CallRouter

E164 = "+79161234567"


def router(source: object, timeout: float = 0.3) -> CallRouter:
    return CallRouter(source, CallState(), RoutingRules(), facts_timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "lookups"),
    [
        ("+79161234567", 1),
        ("79161234567", 1),
        ("89161234567", 1),
        ("8 (916) 123-45-67", 1),
        ("+7 916 1234567", 1),
    ],
)
async def test_known_callers_in_every_spelling(raw: str, lookups: int) -> None:
    source = InMemoryFactsSource({E164: RoutingFacts(contact_id=1, contact_name="Иван")})
    decision = await router(source).route(raw, None)
    assert decision.contact_id == 1
    assert source.lookups == lookups


async def test_unknown_valid_number_is_looked_up_once() -> None:
    source = InMemoryFactsSource()
    decision = await router(source).route("89161234567", "84951110000")
    assert decision.routed_by.value == "unknown-caller"
    assert decision.reason == "+79161234567 is not in the CRM → queue"
    assert source.lookups == 1


async def test_garbage_is_not_looked_up() -> None:
    source = InMemoryFactsSource()
    for raw in ("anonymous", "", None, "12", "x" * 100, "+1234"):
        assert (await router(source).route(raw, None)).routed_by.value == "unknown-caller"
    assert source.lookups == 0


async def test_a_timed_out_lookup_is_not_repeated() -> None:
    class Slow:
        calls = 0

        async def lookup(self, e164: str) -> RoutingFacts | None:
            Slow.calls += 1
            await asyncio.Event().wait()
            return None

    decision = await router(Slow(), timeout=0.05).route("8 916 123-45-67", None)
    assert decision.routed_by.value == "facts-timeout"
    assert Slow.calls == 1


def test_caller_normalization() -> None:
    r = router(InMemoryFactsSource())
    assert r.caller("  8 916 123 45 67 ", " 8495 111 00 00 ").number == E164
    assert r.caller("  8 916 123 45 67 ", " 8495 111 00 00 ").did == "8495 111 00 00"
    assert r.caller("Anonymous").anonymous
    assert r.caller("\x00\x07").anonymous
    assert r.caller("9" * 65).raw.endswith("…")
