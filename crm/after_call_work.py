"""After-call work: hold an agent out of the queues while they wrap a call up.

When an answered call of a Trubka user ends (`CallEnded`), the agent owes its wrap-up
(`pending_wrapups`) and, if they are a queue member, Trubka pauses them in every queue
with `QueuePause` and the reserved reason `AFTER_CALL_REASON` (`trubka-acw`). The reducer
shows an agent paused with that reason as `wrap_up` (not `paused`), so the panel, the
live view and the reports count it as after-call work. The hold ends with
`QueuePause Paused=false` when the agent saves (or skips) that call's wrap-up or when the
call's queue's limit (`WrapupLimits`) runs out — unless the agent took a pause of their
own meanwhile (the member's reason is no longer Trubka's): then their pause stands.

The owed wrap-up is written by the call writer in the transaction of the call's record
(`owed`, `owe_in`; `crm.call_writer`), so the panel's list and the call's record appear
together; skipping or saving a wrap-up waits for that record (`web.panel`).

Not held: an agent already paused for a reason of their own when the call ends (the pause
asked for during the call now applies), an agent in no queue, a limit of 0.

The holds are stored (`after_call_holds`), so a restart keeps them; a sweep every
`tick` seconds, once the PBX is connected, releases the holds that ran out (also while
Trubka was down) and any member still paused with the reserved reason that no hold
explains (a hold whose row was lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from crm.after_call import AfterCallStore, Hold, WrapupLimits
from crm.database import Database
from kernel.agents import AFTER_CALL_REASON, agent_key, interface_key
from kernel.bus import Subscription
from kernel.call_record import CallRecord, Disposition
from routing.facts import AgentRef
from telephony.actions import AmiActions
from telephony.domain import CallEnded, DomainEvent
from telephony.errors import AmiError
from telephony.reducer import CallState
from telephony.state import Agent

log = logging.getLogger(__name__)

Owed = tuple[int, str, CallRecord]  # (user, interface, call): a wrap-up owed

BATCH = 100  # calls ended taken together at most (`AfterCallWork.run`)
RETRY_AFTER = 5.0  # seconds before a release the PBX refused is tried again

KINDS = (CallEnded,)


class Users(Protocol):
    async def by_interface(self, interface: str | None) -> AgentRef | None: ...


def _interface(record: CallRecord) -> str:
    return interface_key(record.agent_interface or "")


def live_agent(live: CallState, interface: str) -> Agent | None:
    """The live agent behind a user's interface, whatever its spelling's case."""
    agent = live.agent_for(interface)
    if agent is None:
        wanted = agent_key(interface)
        agent = next((a for k, a in live.agents.items() if k.lower() == wanted), None)
    return agent


class AfterCallWork:
    def __init__(
        self,
        db: Database,
        users: Users,
        live: CallState,
        pbx: Callable[[], AmiActions | None],
        limits: WrapupLimits,
        *,
        clock: Callable[[], float] = time.time,
        tick: float = 0.5,
    ) -> None:
        self.store = AfterCallStore(db)
        self.users = users
        self.live = live
        # Several PBXes (TRUBKA_PBXES): every PBX's live state by name; a call's members
        # are read on its PBX, holds released wherever a member is held. None: `live` only.
        self.states: Callable[[], Mapping[str, CallState]] | None = None
        self.pbx = pbx  # None while the PBX is not connected (or AMI is disabled)
        self.limits = limits
        self.clock = clock
        self.tick = tick
        self.holds: dict[int, Hold] = {}
        self._retry_at: dict[int, float] = {}
        self._lock = asyncio.Lock()
        self.handled = 0  # calls ended that were looked at (tests wait on it)
        # The call writer stores the wrap-ups owed with the calls' records (the wiring
        # sets this False): else `calls_ended` stores them itself.
        self.stores_owed = True

    async def load(self) -> None:
        """The holds stored before a restart."""
        self.holds = {hold.user_id: hold for hold in await self.store.holds()}

    # --- events ------------------------------------------------------------------------
    async def run(self, events: Subscription[DomainEvent]) -> None:
        while True:
            first = await events.get()
            # The calls that ended while the last ones were handled come together: their
            # owed wrap-ups are one INSERT (a transaction per call cost the event loop
            # more at 50 calls/s than the holds).
            batch = events.get_batch(first, BATCH)
            ended = [event.record for event in batch if isinstance(event, CallEnded)]
            try:
                await self.calls_ended(ended)
            except Exception:  # one bad call must not stop after-call work
                log.exception("after-call work of %s failed", ", ".join(r.linkedid for r in ended))
            self.handled += len(ended)

    async def call_ended(self, record: CallRecord) -> None:
        await self.calls_ended([record])

    async def calls_ended(self, records: list[CallRecord]) -> None:
        owed = await self._owing(records)
        if not owed:
            return
        if self.stores_owed:
            await self.store_owed([(ref.user_id, _interface(r), r) for ref, r in owed])
        for ref, record in owed:
            try:
                await self._hold(ref, record)
            except Exception:
                log.exception("after-call hold of %s failed", record.linkedid)

    async def _owing(self, records: Sequence[CallRecord]) -> list[tuple[AgentRef, CallRecord]]:
        """The answered calls whose agent is a Trubka user, with that user."""
        owed: list[tuple[AgentRef, CallRecord]] = []
        for record in records:
            if record.disposition is not Disposition.ANSWERED or not record.agent_interface:
                continue
            ref = None
            for name in (record.agent_interface, *record.agent_aliases):
                ref = await self.users.by_interface(name)
                if ref is not None:
                    break
            if ref is not None:
                owed.append((ref, record))
        return owed

    # --- the wrap-ups owed (stored by the call writer with the calls: `stores_owed`) ------
    async def owed(self, records: Sequence[CallRecord]) -> list[Owed]:
        """The wrap-ups these calls make owed: (user, interface, call) each."""
        return [(ref.user_id, _interface(r), r) for ref, r in await self._owing(records)]

    async def owe_in(self, conn: AsyncConnection, owed: Sequence[Owed]) -> object:
        """Store them in the caller's transaction (the call writer's)."""
        return await self.store.owe_in(conn, owed)

    async def store_owed(self, owed: Sequence[Owed]) -> None:
        """Store them in a transaction of their own; one bad call loses no other's."""
        if not owed:
            return
        try:
            await self.store.add_pending_many(list(owed))
        except Exception:
            if len(owed) == 1:
                log.exception("the wrap-up owed for %s was not stored", owed[0][2].linkedid)
                return
            for row in owed:
                try:
                    await self.store.add_pending_many([row])
                except Exception:
                    log.exception("the wrap-up owed for %s was not stored", row[2].linkedid)

    async def _hold(self, ref: AgentRef, record: CallRecord) -> None:
        limit = self.limits.for_queue(record.queue)
        if limit <= 0:
            return
        live = self._live(record.pbx)
        members = self._members(ref, live)
        agents = [a for a in (live_agent(live, i) for i in ref.interfaces) if a]
        if not members or any(self._own_pause(a) for a in agents):
            return  # not a queue member, or a pause of their own follows the call
        pbx = self.pbx()
        if pbx is None:
            return  # the PBX cannot be told now: the wrap-up is owed, nobody is held
        now = self.clock()
        hold = Hold(ref.user_id, record.linkedid, tuple(members), now, now + limit)
        async with self._lock:
            self.holds[ref.user_id] = hold  # before the pause: the sweep must know it
            await self.store.put_hold(hold)
        for member in members:
            try:
                await pbx.queue_pause(member, True, AFTER_CALL_REASON)
            except AmiError as exc:
                log.warning("after-call hold of %s not sent: %s", member, exc)

    def _live(self, pbx: str) -> CallState:
        """The live state of PBX `pbx` (the first PBX's when one, or unknown)."""
        if self.states is None:
            return self.live
        return self.states().get(pbx, self.live)

    def _lives(self) -> tuple[CallState, ...]:
        return (self.live,) if self.states is None else tuple(self.states().values())

    def _members(self, ref: AgentRef, live: CallState) -> list[str]:
        found: list[str] = []
        for interface in ref.interfaces:
            agent = live_agent(live, interface)
            if agent is not None:
                found.extend(m.interface for m in agent.memberships.values())
        return list(dict.fromkeys(found))

    @staticmethod
    def _own_pause(agent: Agent) -> bool:
        return (
            bool(agent.memberships)
            and all(m.paused for m in agent.memberships.values())
            and not agent.after_call_work
        )

    # --- the agent's side ----------------------------------------------------------------
    async def pending(self, user_id: int, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """The newest `limit` wrap-ups the user owes, and how many in all."""
        return await self.store.pending(user_id, limit)

    def hold_of(self, user_id: int) -> dict[str, Any] | None:
        hold = self.holds.get(user_id)
        return hold.to_json() if hold else None

    async def done(self, user_id: int, linkedid: str) -> None:
        """The wrap-up of `linkedid` was saved or skipped: it is owed no more, and the hold
        that waited for it ends."""
        await self.store.drop_pending(user_id, linkedid)
        hold = self.holds.get(user_id)
        if hold is not None and hold.linkedid == linkedid:
            await self.release(user_id)

    # --- releasing -----------------------------------------------------------------------
    async def release(self, user_id: int) -> bool:
        """End the hold: unpause the members still paused with the reserved reason.
        False (the hold kept, tried again later) when the PBX cannot be told now."""
        async with self._lock:
            hold = self.holds.get(user_id)
            if hold is None:
                return True
            pbx = self.pbx()
            if pbx is None:
                self._retry_at[user_id] = self.clock() + RETRY_AFTER
                return False
            try:
                for member in hold.interfaces:
                    if self._held(member):
                        await pbx.queue_pause(member, False)
            except AmiError as exc:
                log.warning("after-call hold of user %s not released yet: %s", user_id, exc)
                self._retry_at[user_id] = self.clock() + RETRY_AFTER
                return False
            del self.holds[user_id]
            self._retry_at.pop(user_id, None)
            await self.store.drop_hold(user_id)
        return True

    def _held(self, member: str) -> bool:
        """Is this queue member paused with Trubka's reason now (in any queue, on any
        PBX)?"""
        for live in self._lives():
            agent = live_agent(live, member)
            if agent is not None and any(
                m.paused and m.paused_reason == AFTER_CALL_REASON and same(m.interface, member)
                for m in agent.memberships.values()
            ):
                return True
        return False

    async def sweep(self) -> None:
        """Release the holds that ran out, and members held with no hold behind them."""
        pbx = self.pbx()
        if pbx is None:
            return
        now = self.clock()
        for user_id, hold in list(self.holds.items()):
            if hold.until <= now and self._retry_at.get(user_id, 0.0) <= now:
                await self.release(user_id)
        held = {agent_key(m) for hold in self.holds.values() for m in hold.interfaces}
        for agent in [a for live in self._lives() for a in list(live.agents.values())]:
            for m in list(agent.memberships.values()):
                if not (m.paused and m.paused_reason == AFTER_CALL_REASON):
                    continue
                if agent_key(m.interface) in held:
                    continue
                try:
                    await pbx.queue_pause(m.interface, False, queue=m.queue)
                except AmiError as exc:
                    log.warning("after-call pause of %s not released: %s", m.interface, exc)
                    return
                log.info(
                    "released %s in %s: held for after-call work with no hold", m.interface, m.queue
                )

    async def sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("after-call sweep failed")
            await asyncio.sleep(self.tick)


def same(a: str, b: str) -> bool:
    return agent_key(a) == agent_key(b)
