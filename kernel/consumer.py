"""A bus subscriber made of handlers: each event of its subscription goes through them in order.

For consumers that are plain coroutines (`async def handle(event)`), so the package
that owns the handler never subscribes itself: the composition root subscribes a
`Consumer` and lists the handlers, in the order they must run. A failing handler is
logged and the next one still runs (one broken consumer must not stop the others).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from kernel.bus import Subscription

log = logging.getLogger(__name__)

T = TypeVar("T")


class Consumer(Generic[T]):
    def __init__(
        self, subscription: Subscription[T], *handlers: Callable[[T], Awaitable[None]]
    ) -> None:
        self.subscription = subscription
        self.handlers = handlers
        self.handled = 0
        self._busy = False
        self._progress = asyncio.Event()

    @property
    def name(self) -> str:
        return self.subscription.name

    async def run(self) -> None:
        """Handle events forever (a tracked background task)."""
        while True:
            self._progress.set()
            event = await self.subscription.get()
            self._busy = True
            try:
                await self.handle(event)
            finally:
                self._busy = False

    async def handle(self, event: T) -> None:
        for handler in self.handlers:
            try:
                await handler(event)
            except Exception:
                log.exception("%s: handler %r failed", self.name, handler)
        self.handled += 1

    async def drain(self) -> None:
        """Wait until every event queued so far is handled (shutdown, tests).

        Needs :meth:`run` running; wrap it in `asyncio.timeout()`."""
        while self._busy or not self.subscription.queue.empty():
            self._progress.clear()
            await self._progress.wait()
