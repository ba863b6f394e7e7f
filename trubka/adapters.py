"""Adapters the composition root plugs between packages (CRM → screen pop, sign-in → /ws,
CRM callback tasks → the supervisor's missed-calls report)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from crm.callbacks import CallbackTasks
from crm.cards import CardService, phone_display
from crm.users import UserDirectory
from kernel.agents import agent_key, interface_key
from supervisor.callbacks import TasksOfCalls
from supervisor.missed import CallbackTask
from telephony.reducer import CallState

log = logging.getLogger(__name__)


class CrmAgentDirectory:
    """Which users own an agent interface, kept in memory for the per-event screen pop.

    Refreshed from the CRM's user directory every few seconds (and at start); the live
    state learns the configured interfaces too, so their device states are tracked
    before they ever join a queue.

    The CRM compares interfaces case-insensitively (`local/101@agents`); the live state
    keys them as Asterisk spells them (`Local/101@agents`). Lookups here accept either;
    `agents_of` answers with the interfaces as configured (Asterisk's spelling).
    """

    def __init__(self, directory: UserDirectory, live: CallState, *, interval: float = 5.0) -> None:
        self.directory = directory
        self.live = live
        self.interval = interval
        self._users: dict[str, set[int]] = {}
        self._agents: dict[int, set[str]] = {}
        self._wake = asyncio.Event()
        # a user added or changed in this process is known to the pop at once (a
        # directory without listeners is read every `interval` seconds only)
        listeners = getattr(directory, "listeners", None)
        if listeners is not None:
            listeners.append(self._wake.set)

    def users_for(self, interface: str) -> set[int]:
        """The users of an agent by any of its names: a queue member with another state
        interface (FreePBX: `Local/201@from-queue/n` rings `PJSIP/201`) is one person,
        configured as either."""
        users = set(self._users.get(agent_key(interface), ()))
        for name in self.live.names_of(interface):
            users |= self._users.get(agent_key(name), set())
        return users

    def agents_of(self, user_id: int) -> set[str]:
        return set(self._agents.get(user_id, ()))

    async def refresh(self) -> None:
        by_key, _ = await self.directory.snapshot()
        users: dict[str, set[int]] = {}
        agents: dict[int, set[str]] = {}
        for key, ref in by_key.items():
            users.setdefault(key, set()).add(ref.user_id)
            spelled = [interface_key(i) for i in ref.interfaces if agent_key(i) == key]
            agents.setdefault(ref.user_id, set()).update(spelled or [key])
        self._users, self._agents = users, agents
        self.live.known_agents = {a for keys in agents.values() for a in keys}

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing the agent directory failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()


class CrmCards:
    """The screen-pop card for a caller's number, from the CRM.

    The card gets `display`: every phone number in it as people of the region write it
    (`+74951234567` → `8 (495) 123-45-67`), so the panel shows numbers localized without
    a phone library of its own.
    """

    def __init__(self, cards: CardService, region: str = "RU") -> None:
        self.cards = cards
        self.region = region

    async def card_for(self, number: str | None) -> dict[str, Any] | None:
        if not number:
            return None
        card = await self.cards.for_number(number, timeline=0)
        card["display"] = phone_display(card, self.region)
        return card


class CrmCallbackTasks:
    """The supervisor's `CallbackTasks` port over the CRM's callback tasks.

    First the missed-call tasks routing created (every attempt of the day is linked to
    its one task); a call without one may still have a task someone made for it by hand
    (`tasks.call_linkedid`)."""

    def __init__(self, callbacks: CallbackTasks, by_task_call: TasksOfCalls) -> None:
        self.callbacks = callbacks
        self.by_task_call = by_task_call

    async def for_calls(self, linkedids: Sequence[str]) -> Mapping[str, CallbackTask]:
        found = await self.callbacks.for_calls(linkedids)
        rest = [linkedid for linkedid in linkedids if linkedid not in found]
        manual = await self.by_task_call.for_calls(rest) if rest else {}
        return dict(manual) | {
            linkedid: CallbackTask(
                task_id=info.task_id,
                status=info.status,
                due_at=info.due_at,
                done_at=info.done_at,
                done_by=info.done_by,
                closed_by_call=info.closed_by_call,
                closed_by_call_id=info.closed_by_call_id,
            )
            for linkedid, info in found.items()
        }
