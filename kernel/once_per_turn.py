"""Many asks, one call: `OncePerTurn(action)()` schedules `action` for the next turn of
the running event loop unless it is already scheduled — however many commits in this
turn said "events were queued", the other side hears it once. Asked off the event loop's
thread (no running loop), it does nothing: whoever listens polls anyway."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class OncePerTurn:
    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self._due = False

    def __call__(self) -> None:
        if self._due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._due = True
        loop.call_soon(self._run)

    def _run(self) -> None:
        self._due = False
        self.action()
