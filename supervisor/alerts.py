"""Supervisor alerts, computed from the live state (pure: no I/O, no clock of its own).

What needs a supervisor's eye now, each alert a plain dict in the live view's `alerts`:

| `kind` | when | `value` / `limit` |
|---|---|---|
| `service_level` | a queue's service level today is under its target | percent / target percent |
| `long_wait` | a caller has waited in a queue longer than its limit | seconds / seconds |
| `long_pause` | an agent has been paused longer than the reason's limit | seconds / seconds |
| `long_wrap_up` | an agent has been in after-call work past their queues' limit | seconds |
| `unreachable` | an agent in a queue whose phone is unregistered or unavailable | seconds / 0 |

Every alert has a stable `key` (the same alert keeps it from update to update, so a page
notifies once), `queue` and `agent` (interface key) where they apply, and `since` (when
the condition began, ISO-8601) where one is known.

The thresholds (`AlertThresholds`) come from the configuration: TRUBKA_ALERT_WAIT_SECONDS
and TRUBKA_QUEUE_ALERT_WAIT, TRUBKA_SERVICE_LEVEL_TARGET and
TRUBKA_QUEUE_SERVICE_LEVEL_TARGETS, TRUBKA_PAUSE_LIMIT and TRUBKA_PAUSE_LIMITS (per reason),
TRUBKA_WRAPUP_LIMIT and TRUBKA_QUEUE_WRAPUP_LIMITS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kernel.agents import AgentState
from telephony.records import iso
from telephony.reducer import CallState
from telephony.state import Agent

KINDS = ("service_level", "long_wait", "long_pause", "long_wrap_up", "unreachable")


def _frozen(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    wait_seconds: int = 60
    queue_wait: Mapping[str, int] = field(default_factory=lambda: _frozen(None))
    service_level_target: float = 80.0
    queue_service_level_targets: Mapping[str, float] = field(default_factory=lambda: _frozen(None))
    pause_limit: int = 1800  # 0: no alert for pauses without a limit of their own
    pause_limits: Mapping[str, int] = field(default_factory=lambda: _frozen(None))
    wrapup_limit: int = 60
    queue_wrapup_limits: Mapping[str, int] = field(default_factory=lambda: _frozen(None))

    @classmethod
    def create(
        cls,
        *,
        wait_seconds: int = 60,
        queue_wait: Mapping[str, int] | None = None,
        service_level_target: float = 80.0,
        queue_service_level_targets: Mapping[str, float] | None = None,
        pause_limit: int = 1800,
        pause_limits: Mapping[str, int] | None = None,
        wrapup_limit: int = 60,
        queue_wrapup_limits: Mapping[str, int] | None = None,
    ) -> AlertThresholds:
        return cls(
            wait_seconds=wait_seconds,
            queue_wait=_frozen(queue_wait),
            service_level_target=service_level_target,
            queue_service_level_targets=_frozen(queue_service_level_targets),
            pause_limit=pause_limit,
            pause_limits=_frozen(pause_limits),
            wrapup_limit=wrapup_limit,
            queue_wrapup_limits=_frozen(queue_wrapup_limits),
        )

    def wait_for(self, queue: str) -> int:
        return self.queue_wait.get(queue, self.wait_seconds)

    def target_for(self, queue: str) -> float:
        return float(self.queue_service_level_targets.get(queue, self.service_level_target))

    def pause_limit_for(self, reason: str | None) -> int:
        return self.pause_limits.get(reason or "", self.pause_limit)

    def wrapup_limit_for(self, queues: Iterable[str]) -> int:
        """The longest limit of the agent's queues (the default when none has its own)."""
        limits = [self.queue_wrapup_limits.get(q, self.wrapup_limit) for q in queues]
        return max(limits, default=self.wrapup_limit)


def _agent_alert(agent: Agent, now: float, t: AlertThresholds) -> tuple[str, float, float] | None:
    """(kind, seconds in the state, limit) when this agent needs an alert now; also for
    the state's limit when it has not passed yet (the caller tells them apart)."""
    state = agent.derive_state(now)
    if state is AgentState.PAUSED:
        limit = t.pause_limit_for(agent.paused_reason)
        return ("long_pause", now - agent.state_since, float(limit)) if limit > 0 else None
    if state is AgentState.WRAP_UP:
        limit = t.wrapup_limit_for(agent.memberships)
        return ("long_wrap_up", now - agent.state_since, float(limit)) if limit > 0 else None
    if state is AgentState.UNAVAILABLE:
        return ("unreachable", now - agent.state_since, 0.0)
    return None


def compute_alerts(
    state: CallState,
    service_levels: Callable[[str], float | None],
    thresholds: AlertThresholds,
    now: float,
) -> list[dict[str, Any]]:
    """The alerts in force at `now`; `service_levels(queue)` is today's percent (or None)."""
    return evaluate_alerts(state, service_levels, thresholds, now)[0]


def evaluate_alerts(
    state: CallState,
    service_levels: Callable[[str], float | None],
    thresholds: AlertThresholds,
    now: float,
) -> tuple[list[dict[str, Any]], float | None]:
    """The alerts in force at `now` and the next moment a time limit passes (what
    :func:`next_alert_at` tells), in one pass over the queues and agents."""
    alerts: list[dict[str, Any]] = []
    moments: list[float] = []
    for name in sorted(state.queues):
        queue = state.queues[name]
        level = service_levels(name)
        target = thresholds.target_for(name)
        if level is not None and level < target:
            alerts.append(
                {
                    "kind": "service_level",
                    "key": f"service_level:{name}",
                    "queue": name,
                    "agent": None,
                    "value": round(level, 1),
                    "limit": target,
                    "since": None,
                }
            )
        wait_limit = thresholds.wait_for(name)
        for entry in queue.entries.values():
            waited = now - entry.joined_at
            if waited < wait_limit:
                moments.append(entry.joined_at + wait_limit)
            else:
                alerts.append(
                    {
                        "kind": "long_wait",
                        "key": f"long_wait:{entry.linkedid}",
                        "queue": name,
                        "agent": None,
                        "caller_number": entry.caller_num,
                        "value": round(waited, 1),
                        "limit": wait_limit,
                        "since": iso(entry.joined_at),
                    }
                )
    for key in sorted(state.agents):
        agent = state.agents[key]
        found = _agent_alert(agent, now, thresholds)
        if found is None:
            continue
        kind, seconds, limit = found
        if seconds < limit:
            if limit > 0:
                moments.append(agent.state_since + limit)
            continue
        alerts.append(
            {
                "kind": kind,
                "key": f"{kind}:{key}",
                "queue": None,
                "agent": key,
                "paused_reason": agent.paused_reason if kind == "long_pause" else None,
                "value": round(seconds, 1),
                "limit": limit,
                "since": iso(agent.state_since),
            }
        )
    return alerts, min((m for m in moments if m > now), default=None)


def next_alert_at(state: CallState, thresholds: AlertThresholds, now: float) -> float | None:
    """The next moment a time limit passes (a caller's wait, a pause, a wrap-up), so the
    live feed can publish then without an event."""
    moments: list[float] = []
    for name, queue in state.queues.items():
        limit = thresholds.wait_for(name)
        moments.extend(e.joined_at + limit for e in queue.entries.values())
    for agent in state.agents.values():
        found = _agent_alert(agent, now, thresholds)
        if found is not None and found[2] > 0:
            moments.append(agent.state_since + found[2])
    future = [m for m in moments if m > now]
    return min(future, default=None)
