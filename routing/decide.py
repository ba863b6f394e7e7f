"""`decide`: where an incoming call goes and why — pure, no I/O, no clock.

Given the caller, the contact's routing facts (or why there are none), the live state
of the agents those facts name, the effective rules for the called number and `now`,
it returns a :class:`~routing.decision.Decision` with its reason as a key and values
(:class:`~routing.decision.Reason`) and, rendered from it by `routing.reasons`, in
English: "Ivanova: talked 3 days ago", "owner Petrov is on a call → queue".

The order of the rules:

1. Outside the working hours of the line → the after-hours destination.
2. No usable caller ID, no answer from the CRM, or a caller the CRM does not know →
   the queue.
3. The candidates, in the order the rules prefer them: the last agent who had an
   answered call with the customer (within the look-back window) and the responsible
   manager (owner). The first one who is free now gets the call.
4. Nobody free: when the rules say so, wait up to N seconds for the first candidate
   who is busy on a call (ringing, talking or in wrap-up — not paused or logged out).
5. Otherwise the queue, with the VIP priority of the customer's tags.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from kernel.agents import AgentState
from routing.decision import Caller, Decision, Reason, ReasonKey, RoutedBy
from routing.facts import AgentRef, RoutingFacts
from routing.reasons import render
from routing.rules import Policy, is_dialable

# Agents who will be free soon: worth waiting for. Paused or logged-out ones are not.
BUSY = frozenset({AgentState.ON_CALL, AgentState.RINGING, AgentState.WRAP_UP})


class FactsUnavailable(StrEnum):
    """Why there are no facts for a known-looking caller."""

    TIMEOUT = "timeout"  # the CRM did not answer within the deadline
    ERROR = "error"  # the CRM lookup failed


@dataclass(slots=True)
class _Candidate:
    role: str  # "last-agent" | "owner"
    ref: AgentRef
    free_key: ReasonKey  # why they get the call when free …
    ago: int | None = None  # … with the age of the last talk (the previous manager)

    def free(self) -> tuple[Reason, str]:
        """The reason they get the call, and its English (made when they do)."""
        return _free_reason(self.free_key, self.ref.name, self.ago)


# Why a free agent gets the call, in English too, by (key, agent, age): the same few
# reasons come back call after call, so they are made once and shared (a Reason is
# frozen). Bounded: cleared when full.
_FREE: dict[tuple[ReasonKey, str, int | None], tuple[Reason, str]] = {}
FREE_MAX = 4096


def _free_reason(key: ReasonKey, agent: str, ago: int | None) -> tuple[Reason, str]:
    cache_key = (key, agent, ago)
    made = _FREE.get(cache_key)
    if made is None:
        why = Reason(key, {"agent": agent} if ago is None else {"agent": agent, "ago": ago})
        made = (why, render(why))
        if len(_FREE) >= FREE_MAX:
            _FREE.clear()
        _FREE[cache_key] = made
    return made


def _decision(routed_by: RoutedBy, why: Reason, queue: str, **fields: Any) -> Decision:
    # The usual decisions build their Decision in place (no keyword dict per call); each
    # still carries `why` and its English, `render(why)`.
    return Decision(routed_by, render(why), queue, why=why, **fields)


# Reasons without values: one of each (a Reason is frozen; its values cannot change).
_NO_CALLER_ID = Reason(ReasonKey.NO_CALLER_ID, MappingProxyType({}))
_CRM_TIMEOUT = Reason(ReasonKey.CRM_TIMEOUT, MappingProxyType({}))
_CRM_ERROR = Reason(ReasonKey.CRM_ERROR, MappingProxyType({}))
_NO_CALLER_ID_SAID = render(_NO_CALLER_ID)


def _part(key: ReasonKey, **values: Any) -> dict[str, Any]:
    """One part of a `queue` or `vip` reason, as `Reason.to_json` writes it."""
    return {"key": str(key), "values": values}


def decide(
    caller: Caller,
    facts: RoutingFacts | FactsUnavailable | None,
    presence: Mapping[str, AgentState],
    rules: Policy,
    now: datetime,
) -> Decision:
    """Route one call.

    `presence` maps the dialable interfaces of the agents in `facts` to their live
    state (an interface missing from it counts as logged out). `now` must be aware.
    """
    known = facts if isinstance(facts, RoutingFacts) and facts.known else None
    cid = known.contact_id if known else None
    cname = (known.contact_name or known.company_name) if known else None
    owner = known.owner.user_id if known and known.owner else None
    priority = rules.priority_for(known.tags) if known else None

    if rules.hours is not None and not rules.hours.is_open(now):
        return _after_hours(rules, now, priority, cid, cname, owner)

    if caller.number is None:
        if caller.anonymous or not caller.raw:
            return Decision(
                RoutedBy.UNKNOWN_CALLER, _NO_CALLER_ID_SAID, rules.queue, why=_NO_CALLER_ID
            )
        why = Reason(ReasonKey.CALLER_ID_NOT_A_NUMBER, {"caller_id": _shorten(caller.raw)})
        return Decision(RoutedBy.UNKNOWN_CALLER, render(why), rules.queue, why=why)
    if facts is FactsUnavailable.TIMEOUT:
        return _decision(RoutedBy.FACTS_TIMEOUT, _CRM_TIMEOUT, rules.queue)
    if facts is FactsUnavailable.ERROR:
        return _decision(RoutedBy.FACTS_ERROR, _CRM_ERROR, rules.queue)
    if known is None:
        why = Reason(ReasonKey.NOT_IN_CRM, {"number": caller.number})
        return Decision(RoutedBy.UNKNOWN_CALLER, render(why), rules.queue, why=why)

    candidates, notes = _candidates(known, rules, now)
    states: list[tuple[_Candidate, AgentState, str]] = []
    for candidate in candidates:
        interfaces = [i for i in candidate.ref.interfaces if is_dialable(i)]
        if not interfaces:
            notes.append(
                _part(ReasonKey.NO_DIALABLE_PHONE, agent=candidate.ref.name, role=candidate.role)
            )
            continue
        for interface in interfaces:
            if presence.get(interface, AgentState.LOGGED_OUT) is AgentState.AVAILABLE:
                why, said = candidate.free()
                return Decision(
                    _routed_by(candidate),
                    said,
                    rules.queue,
                    why=why,
                    agent=interface,
                    agent_name=candidate.ref.name,
                    agent_user_id=candidate.ref.user_id,
                    ring_seconds=rules.ring_seconds,
                    priority=priority,
                    contact_id=cid,
                    owner_user_id=owner,
                    contact_name=cname,
                )
        state, interface = _best_state(interfaces, presence)
        states.append((candidate, state, interface))

    if rules.when_busy == "wait":
        for candidate, state, interface in states:
            if state in BUSY:
                why = Reason(
                    ReasonKey.MANAGER_BUSY_WAIT,
                    {
                        "agent": candidate.ref.name,
                        "role": candidate.role,
                        "state": state.value,
                        "seconds": rules.wait_seconds,
                    },
                )
                return _decision(
                    _routed_by(candidate),
                    why,
                    rules.queue,
                    agent=interface,
                    agent_name=candidate.ref.name,
                    agent_user_id=candidate.ref.user_id,
                    ring_seconds=rules.ring_seconds,
                    wait_seconds=rules.wait_seconds,
                    priority=priority,
                    contact_id=cid,
                    owner_user_id=owner,
                    contact_name=cname,
                )

    parts = [
        _part(ReasonKey.MANAGER_BUSY, agent=c.ref.name, role=c.role, state=state.value)
        for c, state, _ in states
    ] + notes
    if not parts:
        who = known.contact_name or known.company_name or caller.number
        none = ReasonKey.NO_RECENT_MANAGER if rules.prefer else ReasonKey.PERSONAL_ROUTING_OFF
        parts = [_part(none, who=who)]
    if priority:
        why = Reason(ReasonKey.VIP, {"parts": parts, "priority": priority})
        return Decision(
            RoutedBy.VIP,
            render(why),
            rules.queue,
            why=why,
            priority=priority,
            contact_id=cid,
            owner_user_id=owner,
            contact_name=cname,
        )
    why = Reason(ReasonKey.QUEUE, {"parts": parts})
    return Decision(
        RoutedBy.QUEUE,
        render(why),
        rules.queue,
        why=why,
        contact_id=cid,
        contact_name=cname,
        owner_user_id=owner,
    )


def _routed_by(candidate: _Candidate) -> RoutedBy:
    return RoutedBy.PREVIOUS_MANAGER if candidate.role == "last-agent" else RoutedBy.OWNER


def _candidates(
    facts: RoutingFacts, rules: Policy, now: datetime
) -> tuple[list[_Candidate], list[dict[str, Any]]]:
    owner = facts.owner
    last = facts.last_agent
    found: list[_Candidate] = []
    notes: list[dict[str, Any]] = []
    for role in rules.prefer:
        if role == "last-agent" and last is not None:
            if facts.last_talked_at is None:
                continue
            age = now - facts.last_talked_at
            ago = _seconds(age)
            if age > timedelta(days=rules.lookback_days):
                notes.append(
                    _part(
                        ReasonKey.LAST_TALK_TOO_OLD,
                        agent=last.name,
                        ago=ago,
                        days=rules.lookback_days,
                    )
                )
                continue
            is_owner = owner is not None and owner.user_id == last.user_id
            key = (
                ReasonKey.PREVIOUS_MANAGER_OWNER_FREE
                if is_owner
                else ReasonKey.PREVIOUS_MANAGER_FREE
            )
            found.append(_Candidate(role, last, key, ago))
        elif role == "owner" and owner is not None:
            found.append(_Candidate(role, owner, ReasonKey.OWNER_FREE))
    unique: list[_Candidate] = []
    for candidate in found:
        if all(c.ref.user_id != candidate.ref.user_id for c in unique):
            unique.append(candidate)
    return unique, notes


def _best_state(
    interfaces: list[str], presence: Mapping[str, AgentState]
) -> tuple[AgentState, str]:
    """The most hopeful state among an agent's phones, and that phone."""
    order = (
        AgentState.RINGING,
        AgentState.WRAP_UP,
        AgentState.ON_CALL,
        AgentState.PAUSED,
        AgentState.UNAVAILABLE,
        AgentState.LOGGED_OUT,
    )
    states = [(presence.get(i, AgentState.LOGGED_OUT), i) for i in interfaces]
    return min(states, key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def _after_hours(
    rules: Policy,
    now: datetime,
    priority: int | None,
    cid: int | None,
    cname: str | None,
    owner: int | None,
) -> Decision:
    hours = rules.hours
    assert hours is not None
    local = now.astimezone(hours.zone())
    when = {"weekday": local.weekday(), "time": f"{local:%H:%M}", "timezone": hours.timezone}
    plan = rules.after_hours
    if plan.action == "dial" and plan.dial:
        return _decision(
            RoutedBy.AFTER_HOURS,
            Reason(ReasonKey.AFTER_HOURS, {**when, "to": plan.dial}),
            rules.queue,
            agent=plan.dial,
            ring_seconds=plan.ring_seconds,
            priority=priority,
            contact_id=cid,
            owner_user_id=owner,
            contact_name=cname,
        )
    if plan.action == "goto" and plan.goto:
        return _decision(
            RoutedBy.AFTER_HOURS,
            Reason(ReasonKey.AFTER_HOURS, {**when, "to": plan.goto}),
            rules.queue,
            goto=plan.goto,
            priority=priority,
            contact_id=cid,
            owner_user_id=owner,
            contact_name=cname,
        )
    queue = plan.queue or rules.queue
    return _decision(
        RoutedBy.AFTER_HOURS,
        Reason(ReasonKey.AFTER_HOURS_QUEUE, {**when, "queue": queue}),
        queue,
        priority=priority,
        contact_id=cid,
        owner_user_id=owner,
        contact_name=cname,
    )


def _seconds(age: timedelta) -> int:
    """Whole seconds (floored: "59.9 s ago" is still under a minute)."""
    return math.floor(age.total_seconds())


def _shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
