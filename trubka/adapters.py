"""Adapters the composition root plugs between packages (CRM → screen pop, sign-in → /ws)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import WebSocket

from crm.cards import CardService
from crm.users import UserDirectory
from crm.users import interface_key as crm_key
from telephony.reducer import CallState
from telephony.state import interface_key
from web.ws import SocketUser

log = logging.getLogger(__name__)


class CrmAgentDirectory:
    """Which users own an agent interface, kept in memory for the per-event screen pop.

    Refreshed from the CRM's user directory every few seconds (and at start); the live
    state learns the configured interfaces too, so their device states are tracked
    before they ever join a queue.
    """

    def __init__(self, directory: UserDirectory, live: CallState, *, interval: float = 5.0) -> None:
        self.directory = directory
        self.live = live
        self.interval = interval
        self._users: dict[str, set[int]] = {}
        self._agents: dict[int, set[str]] = {}

    def users_for(self, agent_key: str) -> set[int]:
        # the CRM's keys are lower-cased (crm.users.interface_key), the live state's not
        users = self._users.get(crm_key(agent_key))
        if users is None:
            # A queue member with a different state interface: map through the live state.
            agent = self.live.agent_for(interface_key(agent_key))
            if agent is not None:
                users = self._users.get(crm_key(agent.key))
        return users or set()

    def agents_of(self, user_id: int) -> set[str]:
        return set(self._agents.get(user_id, ()))

    async def refresh(self) -> None:
        by_key, _ = await self.directory.snapshot()
        users: dict[str, set[int]] = {}
        agents: dict[int, set[str]] = {}
        for key, ref in by_key.items():
            users.setdefault(key, set()).add(ref.user_id)
            agents.setdefault(ref.user_id, set()).add(key)
        self._users, self._agents = users, agents
        # the reducer compares interfaces as Asterisk spells them
        self.live.known_agents = {
            interface_key(interface) for ref in by_key.values() for interface in ref.interfaces
        }

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing the agent directory failed")
            await asyncio.sleep(self.interval)


class CrmCards:
    """The screen-pop card for a caller's number, from the CRM."""

    def __init__(self, cards: CardService) -> None:
        self.cards = cards

    async def card_for(self, number: str | None) -> dict[str, Any] | None:
        if not number:
            return None
        return await self.cards.for_number(number, timeline=0)


async def socket_user(websocket: WebSocket) -> SocketUser | None:
    """The signed-in user of a `/ws` handshake (the session cookie), for the hub."""
    from web.auth import current_user_from_websocket

    user = await current_user_from_websocket(websocket)
    if user is None or not user.active:
        return None
    return SocketUser(user.id, str(user.role))
