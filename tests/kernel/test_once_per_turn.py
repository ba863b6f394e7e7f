"""`kernel.once_per_turn`: many asks in one turn of the loop, one call in the next."""

from __future__ import annotations

import asyncio

from kernel.once_per_turn import OncePerTurn


async def test_asks_of_one_turn_make_one_call_in_the_next() -> None:
    calls: list[int] = []
    soon = OncePerTurn(lambda: calls.append(1))
    for _ in range(5):
        soon()
    assert calls == []  # not now: in the next turn
    await asyncio.sleep(0)
    assert calls == [1]
    soon()
    soon()
    await asyncio.sleep(0)
    assert calls == [1, 1]  # a later turn asks again


def test_off_the_event_loop_it_does_nothing() -> None:
    calls: list[int] = []
    soon = OncePerTurn(lambda: calls.append(1))
    soon()
    assert calls == []
    assert soon._due is False  # nothing left scheduled that would block the next ask
