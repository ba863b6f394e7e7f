"""The simulated PBX's own truth: agents, queue members, queues, calls in progress.

The engine mutates these and emits the AMI events that describe each change; actions
(QueueStatus, CoreShowChannels …) read them back. `IntendedCall` is what the engine
meant a call to be, for tests that compare it with what a client reconstructs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

from telephony.simpbx.config import AgentConfig, QueueConfig
from telephony.simpbx.wire import SimChannel


class HangupBy(StrEnum):
    CALLER = "caller"
    AGENT = "agent"


@dataclass(eq=False, slots=True)
class SimAgent:
    config: AgentConfig
    answers: bool = True
    on_call: str | None = None  # linkedid of the call the agent talks on
    ringing: set[str] = field(default_factory=set)  # linkedids ringing the agent now
    wrapup_until: float = 0.0
    last_rung: float = 0.0
    registered: bool = True  # a SIP phone (PJSIP mode) can unregister: then it is unavailable

    @property
    def number(self) -> str:
        return self.config.number

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def device(self) -> str:
        return self.config.device

    def busy(self) -> bool:
        return self.on_call is not None or bool(self.ringing)


@dataclass(eq=False, slots=True)
class SimMember:
    queue: str
    interface: str
    name: str
    membership: str  # static | dynamic
    login_time: int
    penalty: int = 0
    paused: bool = False
    paused_reason: str = ""
    last_pause: int = 0
    calls_taken: int = 0
    last_call: int = 0

    def headers(self, agent: SimAgent | None) -> list[tuple[str, str]]:
        """The member block of `QueueMember*` events (not the `QueueMember` list item)."""
        return [
            ("Queue", self.queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if agent is not None and agent.on_call else "0"),
            ("Status", str(member_status(agent))),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
            ("Ringinuse", "0"),
            ("Wrapuptime", "0"),
        ]

    def list_item(self, agent: SimAgent | None) -> list[tuple[str, str]]:
        """A `QueueStatus` list item: other header names, other order."""
        return [
            ("Event", "QueueMember"),
            ("Queue", self.queue),
            ("Name", self.name),
            ("Location", self.interface),
            ("StateInterface", self.interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if agent is not None and agent.on_call else "0"),
            ("Status", str(member_status(agent))),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
            ("Wrapuptime", "0"),
        ]


def member_status(agent: SimAgent | None) -> int:
    """app_queue's view of the device: a ringing Local channel already reads as in use."""
    if agent is None or not agent.registered:
        return 5  # unavailable: not a device the simulated PBX can ring
    return 2 if agent.busy() else 1


@dataclass(eq=False, slots=True)
class QueueCaller:
    call: SimCall
    joined: float
    priority: int = 0  # QUEUE_PRIO: a higher one waits ahead of lower ones


@dataclass(eq=False, slots=True)
class SimQueue:
    config: QueueConfig
    waiting: list[QueueCaller] = field(default_factory=list)
    last_rung: int = -1  # rrmemory: index into the member list of the last agent rung
    completed: int = 0
    abandoned: int = 0
    hold_total: float = 0.0
    talk_total: float = 0.0

    @property
    def name(self) -> str:
        return self.config.name


@dataclass(eq=False, slots=True)
class Ring:
    agent: SimAgent
    one: SimChannel  # the agent's `;1`: the dialed channel
    two: SimChannel  # the agent's `;2`: runs the `agents` dialplan
    started: float
    answer_at: float | None  # None: the agent lets it ring
    queue: str | None
    interface: str


@dataclass(slots=True)
class IntendedCall:
    """What the engine made of a call, in the terms of a call record."""

    linkedid: str
    caller_number: str
    caller_name: str | None
    direction: str = "inbound"
    called_number: str | None = None
    queue: str | None = None
    agent_interface: str | None = None
    disposition: str | None = None  # set when the call ends
    recording_file: str | None = None
    routed_agent: str | None = None
    transferred_to: str | None = None
    talk_seconds: float = 0.0
    ended: bool = False


@dataclass(eq=False, slots=True)
class SimCall:
    linkedid: str
    intended: IntendedCall
    one: SimChannel  # the customer's phone (`;1`) or the first leg of an Originate
    two: SimChannel | None  # the customer's dialplan half (`;2`)
    patience: float = 30.0
    talk_time: float = 10.0
    hangup_by: HangupBy = HangupBy.CALLER
    answered_by: str | None = None  # only this agent picks up (None: whoever answers)
    transfer_to: str | None = None  # the agent blind-transfers to this extension …
    transfer_at: float | None = None  # … at this moment (None: halfway through the talk)
    redirected: bool = False  # the transfer is an AMI Redirect, not the agent's own
    transfer_context: str | None = None  # the BlindTransfer action's Context (None: "transfer")
    transfer_external: bool = False  # asked over AMI (BlindTransfer): `IsExternal: Yes`
    held: bool = False  # on hold: out of the bridge until a Bridge action joins them again
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    hangup_request: tuple[SimChannel, int] | None = None
    rings: list[Ring] = field(default_factory=list)
    agent: SimAgent | None = None
    agent_one: SimChannel | None = None
    agent_two: SimChannel | None = None
    bridge_id: str = ""
    answered_at: float | None = None
    queue_joined: float | None = None
    task: asyncio.Task[None] | None = None
