"""Live-state pictures from the real traces: feed a trace through the pipeline and stop
at the moment an agent is free, ringing, talking, paused or logged out.

The named pictures are built once per test session and shared: treat them as read-only
(build your own with :func:`feed_until` to feed more events)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from kernel.agents import AgentState
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState
from telephony.replay import load_index
from tests.kit_traces import trace_path

Condition = Callable[[CallState, float], bool]


@dataclass(frozen=True)
class Picture:
    trace: str
    state: CallState
    at: float  # when the last chunk fed was received

    def agent(self, interface: str) -> AgentState:
        return self.state.agent_state(interface, self.at)

    def presence(self, *interfaces: str) -> dict[str, AgentState]:
        return {interface: self.agent(interface) for interface in interfaces}


@cache
def _chunks(trace: str) -> tuple[bytes, tuple[tuple[float, int, int], ...]]:
    path = trace_path(f"{trace}.ami")
    index = load_index(path)
    assert index, f"{trace} has no socket-read index"
    return path.read_bytes(), tuple(index)


def feed_until(trace: str, condition: Condition | None = None) -> Picture:
    """Feed `trace` read by read until `condition` holds (to the end without one)."""
    data, index = _chunks(trace)
    pipeline = EventPipeline()
    at = index[0][0]
    for at, offset, length in index:
        pipeline.feed(data[offset : offset + length], at)
        if condition is not None and condition(pipeline.state, at):
            return Picture(trace, pipeline.state, at)
    assert condition is None, f"{trace} never reached the state asked for"
    return Picture(trace, pipeline.state, at)


def agent_is(interface: str, state: AgentState) -> Condition:
    return lambda s, at: s.agent_state(interface, at) is state


def all_of(*conditions: Condition) -> Condition:
    return lambda s, at: all(c(s, at) for c in conditions)


A101 = "Local/101@agents/n"
A102 = "Local/102@agents/n"
A103 = "Local/103@agents/n"
A104 = "Local/104@agents/n"


@cache
def free_101() -> Picture:
    """Trace 01 to the end: agent 101 took a queue call, hung up, is free again."""
    return feed_until("01-queue-answered")


@cache
def talking_101() -> Picture:
    """Trace 01 at the moment agent 101 answered the queue call."""
    return feed_until("01-queue-answered", agent_is(A101, AgentState.ON_CALL))


@cache
def ringing_102() -> Picture:
    """Trace 02 at the moment the queue rings agent 102 (who never answers)."""
    return feed_until("02-queue-abandoned-ringing", agent_is(A102, AgentState.RINGING))


@cache
def all_free() -> Picture:
    """Trace 02 to the end: 101, 102 and 103 all rang, nobody answered, all free."""
    return feed_until("02-queue-abandoned-ringing")


@cache
def talking_101_free_103() -> Picture:
    """Trace 05 (20 calls) when 103 has finished a call while 101 is still talking."""
    return feed_until(
        "05-load-20-calls",
        all_of(agent_is(A101, AgentState.ON_CALL), agent_is(A103, AgentState.AVAILABLE)),
    )


@cache
def paused_104() -> Picture:
    """Trace 07 after QueueAdd of 104 paused ("login-paused") to the `sales` queue."""
    return feed_until("07-queue-member-pause", agent_is(A104, AgentState.PAUSED))


@cache
def logged_out_104() -> Picture:
    """Trace 07 to the end: 104 was removed from the queue (QueueRemove)."""
    return feed_until("07-queue-member-pause")
