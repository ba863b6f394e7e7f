"""Routing across PBXes: on which Asterisk an agent's phone is, and how another dials it.

Each PBX has its own live state (its AMI client and reducer). An agent's phone is "at
home" on the PBX whose live state has seen it: a queue membership, a call, a ringing
channel, or a device state other than unknown/invalid. (Every live state learns the
CRM's configured interfaces, so merely being known says nothing.) The call router asks
this for the agent's state when a call asks from PBX `asking`, and turns the agent's
interface into what `asking` can dial (`telephony.pbxes.PbxList.dial_string`): a phone
another PBX cannot reach counts as unavailable, so the decision is the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kernel.agents import AgentState
from telephony.pbxes import PbxList
from telephony.reducer import CallState
from telephony.state import Agent

ABSENT_DEVICE_STATES = frozenset({"UNKNOWN", "INVALID", ""})


def present(agent: Agent | None) -> bool:
    """Whether a PBX's live state has seen this agent's phone (not just its name)."""
    if agent is None:
        return False
    return bool(
        agent.memberships
        or agent.calls
        or agent.ringing
        or agent.device_state.upper() not in ABSENT_DEVICE_STATES
    )


@dataclass(frozen=True, slots=True)
class PbxRouting:
    pbxes: PbxList
    states: Mapping[str, CallState]  # every PBX's live state, by name

    def known(self, name: str | None) -> str:
        """The asking PBX's name; an unknown or missing one is the primary."""
        if name is not None and name in self.states:
            return name
        return self.pbxes.primary.name

    def home_of(self, interface: str, asking: str) -> str:
        """The PBX the agent's phone is on: the asking one when it has seen it, else the
        first other PBX that has, else the asking one."""
        order = [asking, *(n for n in self.pbxes.names if n != asking)]
        for name in order:
            state = self.states.get(name)
            if state is not None and present(state.agent_for(interface)):
                return name
        return asking

    def state(self, interface: str, now: float, asking: str) -> AgentState:
        """The agent's state as the asking PBX can use it."""
        home = self.home_of(interface, asking)
        if home != asking and self.pbxes.dial_string(interface, on=home, asking=asking) is None:
            return AgentState.UNAVAILABLE  # asking cannot dial that PBX's phones
        return self.states[home].agent_state(interface, now)

    def dial(self, interface: str, asking: str) -> str | None:
        """What the asking PBX dials to reach the agent behind `interface`."""
        home = self.home_of(interface, asking)
        return self.pbxes.dial_string(interface, on=home, asking=asking)
