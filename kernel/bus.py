"""The in-process event bus: the reducer's domain events fan out to subscribers.

Publishing never blocks (the AMI reader must not wait on anyone): each subscriber has
its own bounded queue; when a subscriber falls that far behind, new events for it are
dropped and counted, and a warning is logged once per burst. Subscribers that must not
lose events (the call writer) get a large bound and drain in batches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(eq=False, slots=True)
class Subscription(Generic[T]):
    name: str
    kinds: tuple[type, ...] | None
    queue: asyncio.Queue[T]
    dropped: int = 0
    _warned: bool = False

    async def get(self) -> T:
        return await self.queue.get()

    def get_batch(self, first: T, limit: int) -> list[T]:
        batch = [first]
        while len(batch) < limit:
            try:
                batch.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch


@dataclass(slots=True)
class EventBus(Generic[T]):
    subscriptions: list[Subscription[T]] = field(default_factory=list)
    published: int = 0

    def subscribe(
        self, name: str, *, kinds: Iterable[type] | None = None, maxsize: int = 10_000
    ) -> Subscription[T]:
        sub: Subscription[T] = Subscription(
            name, tuple(kinds) if kinds is not None else None, asyncio.Queue(maxsize)
        )
        self.subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription[T]) -> None:
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)

    def publish(self, events: Iterable[T]) -> None:
        for event in events:
            self.published += 1
            for sub in self.subscriptions:
                if sub.kinds is not None and not isinstance(event, sub.kinds):
                    continue
                try:
                    sub.queue.put_nowait(event)
                    sub._warned = False
                except asyncio.QueueFull:
                    sub.dropped += 1
                    if not sub._warned:
                        sub._warned = True
                        log.warning("event bus: subscriber %s is full, dropping events", sub.name)
