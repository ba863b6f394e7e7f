"""Persists finished calls from the event bus in batches, retrying when the database fails.

After each saved batch the `after_save` hooks run (link calls to contacts, queue
recordings, create callback tasks …); a failing hook is logged and does not stop the
writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError

from crm.call_records import CallStore
from telephony.domain import CallEnded, DomainEvent
from telephony.records import CallRecord
from trubka.bus import Subscription

log = logging.getLogger(__name__)

AfterSave = Callable[[Sequence[CallRecord]], Awaitable[None]]


class CallWriter:
    def __init__(
        self,
        store: CallStore,
        subscription: Subscription[DomainEvent],
        *,
        batch_size: int = 200,
        retry_delay: float = 1.0,
    ) -> None:
        self.store = store
        self.subscription = subscription
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.after_save: list[AfterSave] = []
        self.saved = 0
        self.idle = asyncio.Event()

    async def run(self) -> None:
        while True:
            self.idle.set()
            first = await self.subscription.get()
            self.idle.clear()
            events = self.subscription.get_batch(first, self.batch_size)
            records = [event.record for event in events if isinstance(event, CallEnded)]
            if records:
                await self._save(records)

    async def _save(self, records: list[CallRecord]) -> None:
        delay = self.retry_delay
        while True:
            try:
                self.saved += await self.store.save(records)
                break
            except (SQLAlchemyError, OSError) as exc:
                log.error("saving %d call record(s) failed, retrying in %.0fs: %s", len(records), delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        for hook in self.after_save:
            try:
                await hook(records)
            except Exception:
                log.exception("after-save hook %r failed", hook)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything published so far is stored (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while not self.subscription.queue.empty() or not self.idle.is_set():
                await asyncio.sleep(0.01)
