"""Moments when the background work of this process steps aside: a screen pop on its way.

A pop crosses the event loop a few times between the AMI socket and the agent's socket
(the reader, the screen pop, the socket's writer). Background work sharing the loop (the
rules worker) gives it back between slices of about a millisecond, but each crossing can
still wait behind one slice. So the AMI reader marks a moment when a phone starts ringing
(`mark`, from `trubka.wiring`), and background work checks before each slice
(`step_aside`): while the moment lasts (`WINDOW`), it waits, at most `MOST` a check, so a
steady stream of rings never starves it.
"""

from __future__ import annotations

import asyncio
import time

WINDOW = 0.002  # seconds a ring keeps background work aside (a pop takes ~1.6 ms here)
MOST = 0.02  # the longest one check waits

_until = 0.0


def mark(window: float = WINDOW) -> None:
    """Something urgent is on its way: background work steps aside for `window` seconds."""
    global _until
    _until = max(_until, time.perf_counter() + window)


def pressing() -> bool:
    return time.perf_counter() < _until


async def step_aside(most: float = MOST) -> None:
    """Wait while an urgent moment lasts (at most `most` seconds)."""
    now = time.perf_counter()
    if now >= _until:
        return
    deadline = now + most
    while now < _until and now < deadline:
        await asyncio.sleep(min(_until, deadline) - now)
        now = time.perf_counter()
