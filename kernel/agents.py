"""Who an agent is: the one rule every package uses to compare agents' phones.

Asterisk names one phone several ways: `Local/101@agents/n` as a queue member,
`Local/101@agents` when dialled, `Local/101@agents-0000002a;1` as a channel. Two keys:

- `interface_key`: Asterisk's own spelling without the Local channel's dial options
  (`/n`, `/b`); the live state keys its agents by it.
- `agent_key`: the comparison key, `interface_key` lower-cased (`local/101@agents`); users'
  interfaces, reports and the screen pop compare agents by it.
"""

from __future__ import annotations

from enum import StrEnum

DIAL_OPTIONS = ("/n", "/b")

# The queue-pause reason Trubka reserves for after-call work: an agent paused with it is
# wrapping up a call (state `wrap_up`), not on a pause of their own.
AFTER_CALL_REASON = "trubka-acw"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


def interface_key(interface: str) -> str:
    """Normalize a member or dialed interface: `Local/101@agents/n` → `Local/101@agents`."""
    interface = interface.strip()
    if interface.endswith(DIAL_OPTIONS):
        interface = interface[:-2]
    return interface


def agent_key(interface: str) -> str:
    """`Local/101@agents/n` → `local/101@agents`; `PJSIP/101` → `pjsip/101`."""
    return interface_key(interface).lower()


def same_agent(a: str, b: str) -> bool:
    return agent_key(a) == agent_key(b)
