"""`trubka serve`'s garbage-collector thresholds: objects that live a few seconds (a
call's state, a pop waiting for its card) no longer set off full collections, which
walk the whole heap and stalled the loop for tens of milliseconds every few seconds."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from trubka import gc_tuning


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()  # as `trubka serve` does: start-up is out of sight
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def collections_while_serving() -> list[int]:
    """The generations collected while calls come and go: bursts of 20,000 calls, each
    call's objects alive until its burst ends."""
    seen: list[int] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            seen.append(int(info["generation"]))

    gc.callbacks.append(note)
    try:
        for _burst in range(12):
            calls = [{"call": n, "agents": [n]} for n in range(20_000)]
            del calls
    finally:
        gc.callbacks.remove(note)
    return seen


def test_calls_that_live_a_while_set_off_no_full_collection(collector: None) -> None:
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    assert collections_while_serving().count(2) >= 2
    gc_tuning.tune()
    seen = collections_while_serving()
    assert seen.count(2) == 0
    assert seen.count(0) > 500 and seen.count(1) > 50  # the young ones as before
