"""Persists finished calls from the event bus in batches, retrying when the database fails.

A batch waits `linger` seconds for the calls ending meanwhile, so a busy call center
costs a few transactions a second rather than a few per call. After each committed batch
the writer publishes :class:`~crm.events.CallsStored`; what follows from a stored call
(contact linking, callback tasks, report rollups) subscribes to that, never holding up
the writer (`trubka.wiring` lists the consumers).

The wrap-ups that the agents of the answered calls owe (`wrapups`: after-call work) are
written in the batch's transaction: an owed wrap-up is there exactly when its call's
record is, and a call center pays no transaction per answered call for it. Should that
write fail (a user deleted meanwhile), the calls are stored alone at once and the
wrap-ups after them one by one: the calls never wait for the wrap-ups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.call_records import CallStore
from crm.events import CallsStored
from kernel.bus import Subscription
from kernel.call_record import CallRecord
from telephony.domain import CallBackfilled, CallEnded, DomainEvent

log = logging.getLogger(__name__)

PublishStored = Callable[[Iterable[CallsStored]], None]
Owed = tuple[int, str, CallRecord]  # (user, interface, call): a wrap-up owed


class OwedWrapups(Protocol):
    """After-call work as the writer sees it (`crm.after_call_work.AfterCallWork`)."""

    async def owed(self, records: Sequence[CallRecord]) -> list[Owed]: ...

    async def owe_in(self, conn: AsyncConnection, owed: Sequence[Owed]) -> object: ...

    async def store_owed(self, owed: Sequence[Owed]) -> None: ...


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
        self.wrapups: OwedWrapups | None = None  # set by the wiring (after-call work)
        self._busy = False
        self._progress = asyncio.Event()
        self._taken = 0  # events taken from the subscription
        self._settled = 0  # of those, handled (their calls stored)
        self._settle = asyncio.Event()

    async def run(self) -> None:
        while True:
            self._progress.set()
            first = await self.subscription.get()
            self._busy = True
            self._taken += 1
            events: list[DomainEvent] = [first]
            try:
                if self.linger > 0 and self.subscription.queue.qsize() < self.batch_size - 1:
                    # Let the calls ending meanwhile join this batch: one transaction (and
                    # one `CallsStored`) for many calls keeps the event loop free for pops.
                    await asyncio.sleep(self.linger)
                events = self.subscription.get_batch(first, self.batch_size)
                self._taken += len(events) - 1
                records = [
                    event.record
                    for event in events
                    if isinstance(event, CallEnded | CallBackfilled)
                ]
                if records:
                    ended = [e.record for e in events if isinstance(e, CallEnded)]
                    await self._save(records, await self._owed(ended))
            finally:
                self._busy = False
                self._settled += len(events)
                self._settle.set()

    async def _owed(self, ended: list[CallRecord]) -> list[Owed]:
        """The wrap-ups owed for the calls that ended live (not those rebuilt from
        Asterisk's books: nobody is wrapping those up)."""
        if self.wrapups is None or not ended:
            return []
        try:
            return await self.wrapups.owed(ended)
        except Exception:  # the calls are stored whatever happens to their wrap-ups
            log.exception("the wrap-ups owed for %d call(s) were not looked up", len(ended))
            return []

    async def _save(self, records: list[CallRecord], owed: list[Owed] | None = None) -> None:
        delay = self.retry_delay
        wrapups = self.wrapups
        with_calls = list(owed or ())
        alone: list[Owed] = []  # owed wrap-ups stored after the calls, one by one

        async def owe(conn: AsyncConnection, new: set[tuple[str, str]]) -> None:
            assert wrapups is not None
            await wrapups.owe_in(conn, [o for o in with_calls if (o[2].linkedid, o[2].pbx) in new])

        while True:
            try:
                stored = await self.store.insert_keys(records, owe if with_calls else None)
                self.saved += len(stored)
                break
            except (SQLAlchemyError, OSError) as exc:
                if with_calls:
                    log.warning(
                        "storing %d call record(s) with the wrap-ups owed failed (%s); the "
                        "calls go alone, the wrap-ups after them",
                        len(records),
                        exc,
                    )
                    alone, with_calls = with_calls, []
                    continue
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
        if alone and wrapups is not None:
            await wrapups.store_owed([o for o in alone if (o[2].linkedid, o[2].pbx) in stored])
        if fresh:
            self.publish([CallsStored(fresh)])

    async def caught_up(self) -> None:
        """Wait until the calls given to the writer before now are stored (and the
        wrap-ups they owe): unlike `drain`, calls ending later do not make it wait longer,
        so it ends even while a busy call center keeps the writer at work. Needs the
        writer running; wrap it in `asyncio.timeout()`."""
        target = self._taken + self.subscription.queue.qsize()
        while self._settled < target:
            self._settle.clear()
            await self._settle.wait()

    async def drain(self) -> None:
        """Wait until everything published so far is stored (shutdown, tests).

        Needs the writer running; wrap it in `asyncio.timeout()`."""
        while self._busy or not self.subscription.queue.empty():
            self._progress.clear()
            await self._progress.wait()
