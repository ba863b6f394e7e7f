"""What the supervisor's reports take from the PBX and the CRM, as plain callables.

* :func:`asterisk_service_levels`: each queue's `servicelevel` from `queues.conf`, as
  Asterisk reports it in AMI `QueueParams` (the live state keeps it per queue).
* :class:`AgentRoster`: the agent keys of Trubka users and of queue members; the agents
  report lists only those (a mistyped dial such as `Local/12@pstn-out` is no agent).

The composition root builds both and hands them to :meth:`Supervisor.create`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from crm.users import UserDirectory
from kernel.agents import agent_key
from telephony.reducer import CallState


def asterisk_service_levels(live: CallState) -> Callable[[], Mapping[str, int]]:
    """Each known queue's Asterisk threshold (0 when Asterisk has not said or has none)."""

    def levels() -> Mapping[str, int]:
        return {name: queue.service_level for name, queue in live.queues.items()}

    return levels


class AgentRoster:
    """The agent keys of active Trubka users and of the live state's queue members."""

    def __init__(self, users: UserDirectory | None, live: CallState | None) -> None:
        self.users = users
        self.live = live

    async def __call__(self) -> frozenset[str] | None:
        keys: set[str] = set()
        if self.users is not None:
            by_key, _ = await self.users.snapshot()
            keys.update(by_key)
        if self.live is not None:
            for queue in self.live.queues.values():
                keys.update(agent_key(member) for member in queue.members)
            members = (a.key for a in self.live.agents.values() if a.memberships)
            keys.update(agent_key(key) for key in members)
        return frozenset(keys)
