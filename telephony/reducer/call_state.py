"""The reducer's whole state: the live picture of calls, queues and agents, and its config."""

from __future__ import annotations

from dataclasses import dataclass, field

from kernel.agents import AgentState, interface_key
from kernel.call_record import DEFAULT_PBX
from telephony import domain as d
from telephony.state import Agent, Call, Channel, Queue

# What one event implies, in order: the domain events the reducer returns.
Effects = list[d.DomainEvent]


@dataclass(frozen=True, slots=True)
class ReducerConfig:
    region: str = "RU"
    internal_max_digits: int = 5  # extensions have at most this many digits
    pbx: str = DEFAULT_PBX  # the Asterisk this state follows; stamped on its call records


@dataclass(slots=True)
class ReducerStats:
    events: int = 0
    unknown_channel: int = 0
    ignored: int = 0
    calls_finished: int = 0
    closed_by_resync: int = 0


@dataclass(slots=True)
class CallState:
    """The live picture of calls, queues and agents."""

    config: ReducerConfig = field(default_factory=ReducerConfig)
    calls: dict[str, Call] = field(default_factory=dict)  # by linkedid
    channels: dict[str, Channel] = field(default_factory=dict)  # by uniqueid
    queues: dict[str, Queue] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)  # by interface key
    # Another name of an agent → its key: a queue member's state interface (FreePBX's
    # `Local/201@from-queue/n` rings the phone `PJSIP/201`), or the phone its Local
    # channel was seen dialing.
    aliases: dict[str, str] = field(default_factory=dict)
    known_agents: set[str] = field(default_factory=set)  # interface keys from the CRM
    stats: ReducerStats = field(default_factory=ReducerStats)

    # --- queries -------------------------------------------------------------------
    def agent_for(self, interface: str) -> Agent | None:
        key = interface_key(interface)
        key = self.aliases.get(key, key)
        return self.agents.get(key)

    def names_of(self, interface: str) -> list[str]:
        """Every name of the agent behind an interface, as Asterisk spells them: its key
        first (the queue member), then its aliases (the phones behind it)."""
        key = interface_key(interface)
        if not self.aliases:
            return [key]
        found = self.aliases.get(key)
        if found is None:  # the CRM spells interfaces in lower case
            wanted = key.lower()
            found = next((k for a, k in self.aliases.items() if a.lower() == wanted), key)
        wanted = found.lower()
        return [found, *(alias for alias, agent in self.aliases.items() if agent.lower() == wanted)]

    def agent_state(self, interface: str, now: float) -> AgentState:
        agent = self.agent_for(interface)
        return agent.derive_state(now) if agent else AgentState.LOGGED_OUT

    def call_of_agent(self, interface: str) -> Call | None:
        agent = self.agent_for(interface)
        if agent is None:
            return None
        for linkedid in (*agent.calls, *agent.ringing):
            call = self.calls.get(linkedid)
            if call is not None:
                return call
        return None
