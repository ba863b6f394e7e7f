"""Persists finished calls from the event bus in batches, retrying when the database fails.

A batch waits `linger` seconds for the calls ending meanwhile, so a busy call center
costs a few transactions a second rather than a few per call. After each committed batch
the writer publishes :class:`~crm.events.CallsStored`; what follows from a stored call
(contact linking, callback tasks, report rollups) subscribes to that, never holding up
the writer (`trubka.wiring` lists the consumers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from crm.call_records import CallStore
from crm.events import CallsStored
from kernel.bus import Subscription
from kernel.call_record import CallRecord
from telephony.domain import CallBackfilled, CallEnded, DomainEvent

log = logging.getLogger(__name__)

PublishStored = Callable[[Iterable[CallsStored]], None]


def _nowhere(_events: Iterable[CallsStored]) -> None:
    return None


class CallWriter:
    def __init__(
        self,
        store: CallStore,
        subscription: Subscription[DomainEvent],
        publish: PublishStored = _nowhere,
        *,
        batch_size: int = 200,
        retry_delay: float = 1.0,
        linger: float = 0.2,
    ) -> None:
        self.store = store
        self.linger = linger
        self.subscription = subscription
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.publish = publish  # the bus's `publish`: where `CallsStored` goes
        self.saved = 0
        self._busy = False
        self._progress = asyncio.Event()

    async def run(self) -> None:
        while True:
            self._progress.set()
            first = await self.subscription.get()
            self._busy = True
            try:
                if self.linger > 0 and self.subscription.queue.qsize() < self.batch_size - 1:
                    # Let the calls ending meanwhile join this batch: one transaction (and
                    # one `CallsStored`) for many calls keeps the event loop free for pops.
                    await asyncio.sleep(self.linger)
                events = self.subscription.get_batch(first, self.batch_size)
                records = [
                    event.record
                    for event in events
                    if isinstance(event, CallEnded | CallBackfilled)
                ]
                if records:
                    await self._save(records)
            finally:
                self._busy = False

    async def _save(self, records: list[CallRecord]) -> None:
        delay = self.retry_delay
        while True:
            try:
                stored = await self.store.insert_keys(records)
                self.saved += len(stored)
                break
            except (SQLAlchemyError, OSError) as exc:
                log.error(
                    "saving %d call record(s) failed, retrying in %.0fs: %s",
                    len(records),
                    delay,
                    exc,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        # Only calls stored now have consequences (a call both seen live and rebuilt from
        # Asterisk's books is linked and given its callback task once).
        first: dict[tuple[str, str], CallRecord] = {}
        for record in records:
            key = (record.linkedid, record.pbx)
            if key in stored:
                first.setdefault(key, record)  # in order; the first one won
        fresh = tuple(first.values())
        if fresh:
            self.publish([CallsStored(fresh)])

    async def drain(self) -> None:
        """Wait until everything published so far is stored (shutdown, tests).

        Needs the writer running; wrap it in `asyncio.timeout()`."""
        while self._busy or not self.subscription.queue.empty():
            self._progress.clear()
            await self._progress.wait()
