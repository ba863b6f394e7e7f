"""`decide`: where an incoming call goes and why — pure, no I/O, no clock.

Given the caller, the contact's routing facts (or why there are none), the live state
of the agents those facts name, the effective rules for the called number and `now`,
it returns a :class:`~routing.decision.Decision` with a human-readable reason such as
"Ivanova: talked 3 days ago" or "owner Petrov is on a call → queue".

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kernel.agents import AgentState
from routing.decision import Caller, Decision, RoutedBy
from routing.facts import AgentRef, RoutingFacts
from routing.rules import Policy, is_dialable

# Agents who will be free soon: worth waiting for. Paused or logged-out ones are not.
BUSY = frozenset({AgentState.ON_CALL, AgentState.RINGING, AgentState.WRAP_UP})

_STATE_TEXT = {
    AgentState.ON_CALL: "is on a call",
    AgentState.RINGING: "is ringing for another call",
    AgentState.WRAP_UP: "is in wrap-up",
    AgentState.PAUSED: "is paused",
    AgentState.LOGGED_OUT: "is not logged in",
    AgentState.UNAVAILABLE: "is unavailable",
    AgentState.AVAILABLE: "is free",
}


class FactsUnavailable(StrEnum):
    """Why there are no facts for a known-looking caller."""

    TIMEOUT = "timeout"  # the CRM did not answer within the deadline
    ERROR = "error"  # the CRM lookup failed


@dataclass(frozen=True, slots=True)
class _Candidate:
    role: str  # "last-agent" | "owner"
    ref: AgentRef
    label: str  # how the reason names them: "Ivanova" / "owner Petrov"
    why: str  # "talked 3 days ago" / "owner"


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
            reason = "no caller ID → queue"
        else:
            reason = f"caller ID {_shorten(caller.raw)} is not a phone number → queue"
        return Decision(RoutedBy.UNKNOWN_CALLER, reason, rules.queue)
    if facts is FactsUnavailable.TIMEOUT:
        return Decision(RoutedBy.FACTS_TIMEOUT, "CRM did not answer in time → queue", rules.queue)
    if facts is FactsUnavailable.ERROR:
        return Decision(RoutedBy.FACTS_ERROR, "CRM lookup failed → queue", rules.queue)
    if known is None:
        return Decision(
            RoutedBy.UNKNOWN_CALLER, f"{caller.number} is not in the CRM → queue", rules.queue
        )

    candidates, notes = _candidates(known, rules, now)
    states: list[tuple[_Candidate, AgentState, str]] = []
    for candidate in candidates:
        interfaces = [i for i in candidate.ref.interfaces if is_dialable(i)]
        if not interfaces:
            notes.append(f"{candidate.label} has no dialable phone")
            continue
        for interface in interfaces:
            if presence.get(interface, AgentState.LOGGED_OUT) is AgentState.AVAILABLE:
                return Decision(
                    _routed_by(candidate),
                    f"{candidate.label}: {candidate.why}",
                    rules.queue,
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
                wait = f"wait up to {rules.wait_seconds} s, then queue"
                return Decision(
                    _routed_by(candidate),
                    f"{candidate.label} {_STATE_TEXT[state]}: {wait}",
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

    parts = [f"{candidate.label} {_STATE_TEXT[state]}" for candidate, state, _ in states] + notes
    if not parts:
        who = known.contact_name or known.company_name or caller.number
        parts = [
            f"{who}: no recent agent or owner"
            if rules.prefer
            else f"{who}: personal routing is off"
        ]
    reason = ", ".join(parts) + " → queue"
    if priority:
        return Decision(
            RoutedBy.VIP,
            f"{reason} (VIP, priority {priority})",
            rules.queue,
            priority=priority,
            contact_id=cid,
            owner_user_id=owner,
            contact_name=cname,
        )
    return Decision(
        RoutedBy.QUEUE, reason, rules.queue, contact_id=cid, contact_name=cname, owner_user_id=owner
    )


def _routed_by(candidate: _Candidate) -> RoutedBy:
    return RoutedBy.PREVIOUS_MANAGER if candidate.role == "last-agent" else RoutedBy.OWNER


def _candidates(
    facts: RoutingFacts, rules: Policy, now: datetime
) -> tuple[list[_Candidate], list[str]]:
    owner = facts.owner
    last = facts.last_agent
    found: list[_Candidate] = []
    notes: list[str] = []
    for role in rules.prefer:
        if role == "last-agent" and last is not None:
            if facts.last_talked_at is None:
                continue
            age = now - facts.last_talked_at
            if age > timedelta(days=rules.lookback_days):
                notes.append(
                    f"{last.name}: last talked {_age(age)}, over {rules.lookback_days:g} days"
                )
                continue
            is_owner = owner is not None and owner.user_id == last.user_id
            why = f"talked {_age(age)}" + (", owner" if is_owner else "")
            found.append(_Candidate(role, last, last.name, why))
        elif role == "owner" and owner is not None:
            found.append(_Candidate(role, owner, f"owner {owner.name}", "responsible manager"))
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
    when = f"after hours ({local:%a %H:%M} {hours.timezone})"
    plan = rules.after_hours
    if plan.action == "dial" and plan.dial:
        return Decision(
            RoutedBy.AFTER_HOURS,
            f"{when} → {plan.dial}",
            rules.queue,
            agent=plan.dial,
            ring_seconds=plan.ring_seconds,
            priority=priority,
            contact_id=cid,
            owner_user_id=owner,
            contact_name=cname,
        )
    if plan.action == "goto" and plan.goto:
        return Decision(
            RoutedBy.AFTER_HOURS,
            f"{when} → {plan.goto}",
            rules.queue,
            goto=plan.goto,
            priority=priority,
            contact_id=cid,
            owner_user_id=owner,
            contact_name=cname,
        )
    queue = plan.queue or rules.queue
    return Decision(
        RoutedBy.AFTER_HOURS,
        f"{when} → queue {queue}",
        queue,
        priority=priority,
        contact_id=cid,
        owner_user_id=owner,
        contact_name=cname,
    )


def _age(age: timedelta) -> str:
    seconds = age.total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return _plural(int(seconds // 60), "minute") + " ago"
    if seconds < 86400:
        return _plural(int(seconds // 3600), "hour") + " ago"
    return _plural(int(seconds // 86400), "day") + " ago"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
