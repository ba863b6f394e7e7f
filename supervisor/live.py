"""The supervisor's live view, built from the reducer's state (pure: no I/O, no clock).

:func:`build_live_view` turns a :class:`telephony.reducer.CallState` (calls, queues with
their waiting callers, agents with their state) plus today's figures from the rollups
into the JSON that `GET /api/live` returns and that the WebSocket feed pushes.

Logins and contacts live in the CRM: they come in through a :class:`Directory` of plain
lookups, filled beforehand by an async :class:`LiveDirectory` (the CRM's users by
interface, contacts by number), so the builder itself stays pure.

:class:`LiveBuilder` builds the whole document or single parts of it (one queue, one
agent, the totals): the WebSocket feed (:mod:`supervisor.feed`) sends only the parts
that changed. Every duration is given twice: in seconds at `generated_at`
(`wait_seconds`, `state_seconds`, `seconds`) and as the moment it counts from
(`joined_at`, `state_since`, `since`), so a page can keep the clocks running between
updates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kernel.agents import AFTER_CALL_REASON, AgentState
from kernel.phones import normalize
from supervisor.alerts import compute_alerts
from supervisor.config import ReportConfig
from supervisor.reports import TodayFigures
from telephony.records import iso
from telephony.reducer import CallState
from telephony.state import Agent, Call, Membership, Queue, interface_of

Contact = Mapping[str, Any]

COUNTED_STATES = ("available", "ringing", "on_call", "wrap_up", "paused", "unavailable")


def _no_login(interface: str) -> str | None:
    return None


def _no_contact(number: str) -> Contact | None:
    return None


def _no_person(interface: str) -> tuple[int, str, str] | None:
    return None


@dataclass(frozen=True, slots=True)
class Directory:
    """Plain lookups: an agent's login by interface key, a contact by E.164 number, and
    the CRM user (id, login, name) who owns an interface."""

    login_for: Callable[[str], str | None] = _no_login
    contact_for: Callable[[str], Contact | None] = _no_contact
    person_for: Callable[[str], tuple[int, str, str] | None] = _no_person


class LiveDirectory(Protocol):
    """Port to the CRM: resolves the logins and contacts one live view needs."""

    async def resolve(self, interfaces: Iterable[str], numbers: Iterable[str]) -> Directory: ...


class NoDirectory:
    """No CRM plugged in: no logins, no contacts."""

    async def resolve(self, interfaces: Iterable[str], numbers: Iterable[str]) -> Directory:
        return Directory()


@dataclass(frozen=True, slots=True)
class DirectoryFromMaps:
    """A directory over two dicts (what a CRM lookup fills)."""

    logins: Mapping[str, str] = field(default_factory=dict)
    contacts: Mapping[str, Contact] = field(default_factory=dict)

    def directory(self) -> Directory:
        return Directory(login_for=self.logins.get, contact_for=self.contacts.get)


def wanted(state: CallState) -> tuple[set[str], set[str]]:
    """The interfaces and caller numbers a live view will look up (for the directory)."""
    region = state.config.region
    numbers = set()
    for call in state.calls.values():
        if call.partial:
            continue
        number = normalize(call.caller_num, region) if call.caller_num else None
        if number:
            numbers.add(number)
    for queue in state.queues.values():
        for entry in queue.entries.values():
            number = normalize(entry.caller_num, region) if entry.caller_num else None
            if number:
                numbers.add(number)
    return set(state.agents), numbers


def _seconds(now: float, since: float | None) -> float:
    return round(max(0.0, now - since), 1) if since is not None else 0.0


def _moment(at: float | None) -> str | None:
    return iso(at) if at is not None else None


class LiveBuilder:
    """Builds the live view, whole or in parts, for one moment (one instance per update)."""

    def __init__(
        self,
        state: CallState,
        now: float,
        today: TodayFigures,
        config: ReportConfig,
        directory: Directory | None = None,
        *,
        waiting_limit: int | None = None,
        alerts: list[dict[str, Any]] | None = None,
    ) -> None:
        self.state = state
        self.now = now
        self.today = today
        self._alerts = alerts  # computed for this moment already (the live feed)
        self.config = config
        self.directory = directory or Directory()
        self.waiting_limit = waiting_limit  # list at most this many callers per queue
        self.region = state.config.region
        self._agent_cache: dict[str, dict[str, Any]] = {}
        self._spies: dict[str, list[Call]] | None = None  # spied linkedid → spy sessions

    def number(self, raw: str | None) -> str | None:
        return normalize(raw, self.region) if raw else None

    def contact(self, number: str | None) -> Contact | None:
        return self.directory.contact_for(number) if number else None

    # --- agents ------------------------------------------------------------------------
    def agent_state(self, agent: Agent) -> tuple[str, float]:
        derived = agent.derive_state(self.now)
        since = agent.state_since
        if derived != agent.state and agent.state is AgentState.WRAP_UP and agent.wrapup_until:
            since = agent.wrapup_until  # wrap-up ran out without an event
        elif derived != agent.state:
            since = self.now
        return derived.value, since

    def current_call(self, agent: Agent) -> dict[str, Any] | None:
        """The call an agent is ringing for or talking on: the customer, and for how long."""
        call = self.state.call_of_agent(agent.key)
        if call is None:
            return None
        talking = call.linkedid in agent.calls
        outbound = bool(call.outbound_number) and call.outbound_leg == call.customer_leg
        number = self.number(call.outbound_number if outbound else call.caller_num)
        if talking and call.answered_at is not None:
            since = call.answered_at
        else:
            rings = [r.since for r in call.rings.values() if r.agent == agent.key]
            since = min(rings) if rings else call.started_at
        return {
            "linkedid": call.linkedid,
            "state": "talking" if talking else "ringing",
            "direction": "outbound" if outbound else "inbound",
            "caller_number": number,
            "caller_name": None if outbound else call.caller_name,
            "contact": self.contact(number),
            "queue": call.queue,
            "seconds": _seconds(self.now, since),
            "since": _moment(since),
        }

    def listeners(self, agent: Agent) -> list[dict[str, Any]]:
        """Who listens to (whispers to, barges into) the agent's call now: a spy session
        whose ChanSpy started on it (`phone`, the CRM user's `user_id` and `name`, `since`)."""
        if not agent.calls:
            return []
        if self._spies is None:
            self._spies = {}
            for call in self.state.calls.values():
                if call.spy and call.spied_linkedid and call.spy_started_at is not None:
                    self._spies.setdefault(call.spied_linkedid, []).append(call)
        found = []
        for linkedid in sorted(agent.calls):
            for spy in self._spies.get(linkedid, ()):
                phone = interface_of(spy.origin_leg) if spy.origin_leg else None
                person = self.directory.person_for(phone) if phone else None
                found.append(
                    {
                        "phone": phone,
                        "user_id": person[0] if person else None,
                        "name": person[2] if person else phone,
                        "since": _moment(spy.spy_started_at),
                    }
                )
        return found

    def listed(self, agent: Agent) -> bool:
        """Is this agent in the document's `agents` list (a member, or on/ringing a call)?"""
        return bool(agent.memberships or agent.calls or agent.ringing)

    def agent(self, agent: Agent) -> dict[str, Any]:
        cached = self._agent_cache.get(agent.key)
        if cached is not None:
            return cached
        state, since = self.agent_state(agent)
        pending = agent.pause_pending
        today = self.today.agent(agent.key) or {}
        person = self.directory.person_for(agent.key)
        item = {
            "login": person[1] if person else self.directory.login_for(agent.key),
            "user_id": person[0] if person else None,
            "interface": agent.key,
            "name": agent.name or (person[2] if person else None),
            "state": state,
            "state_seconds": _seconds(self.now, since),
            "state_since": _moment(since),
            "paused_reason": agent.paused_reason if state == "paused" or pending else None,
            "pause_pending": pending,
            "queues": sorted(agent.memberships),
            "current_call": self.current_call(agent),
            "listened_by": self.listeners(agent),
            "calls_today": int(today.get("answered", 0)) + int(today.get("outbound", 0)),
            "talk_seconds_today": round(
                float(today.get("talk_seconds", 0.0))
                + float(today.get("outbound_talk_seconds", 0.0)),
                1,
            ),
            "pause_seconds_today": float(today.get("pause_seconds", 0.0)),
        }
        self._agent_cache[agent.key] = item
        return item

    def member(self, agent: Agent, membership: Membership) -> dict[str, Any]:
        item = dict(self.agent(agent))
        if membership.paused and membership.paused_reason == AFTER_CALL_REASON:
            if item["state"] not in ("ringing", "on_call"):
                item["state"] = "wrap_up"  # held by Trubka's after-call work
                item["paused_reason"] = None
        elif membership.paused and item["state"] not in ("ringing", "on_call"):
            # paused in this queue (maybe not in the others)
            item["state"] = "paused"
            item["paused_reason"] = membership.paused_reason or None
        return item

    def queues_of(self, agent: Agent) -> set[str]:
        """The queues whose document lists this agent."""
        names = set(agent.memberships)
        call = self.state.call_of_agent(agent.key)
        if call is not None and call.queue:
            names.add(call.queue)
        return names

    # --- queues ------------------------------------------------------------------------
    def waiting(self, queue: Queue) -> list[dict[str, Any]]:
        entries = []
        for position, entry in enumerate(queue.entries.values(), start=1):
            if self.waiting_limit is not None and position > self.waiting_limit:
                break
            call = self.state.calls.get(entry.linkedid)
            raw = entry.caller_num or (call.caller_num if call else None)
            number = self.number(raw)
            entries.append(
                {
                    "linkedid": entry.linkedid,
                    "caller_number": number,
                    "caller_name": entry.caller_name or (call.caller_name if call else None),
                    "contact": self.contact(number),
                    "wait_seconds": _seconds(self.now, entry.joined_at),
                    "joined_at": _moment(entry.joined_at),
                    "position": position,
                }
            )
        return entries

    def queue_names(self) -> list[str]:
        return sorted(set(self.state.queues) | set(self.today.queues))

    def queue(self, name: str) -> dict[str, Any]:
        queue = self.state.queues.get(name) or Queue(name)
        members = []
        listed = set()
        for key in sorted(queue.members):
            agent = self.state.agents.get(key)
            if agent is None or name not in agent.memberships:
                continue
            listed.add(key)
            members.append(self.member(agent, agent.memberships[name]))
        for agent in self.state.agents.values():
            # an agent taking this queue's call before the member list is known (no resync yet)
            if agent.key in listed or not (agent.calls or agent.ringing):
                continue
            call = self.state.call_of_agent(agent.key)
            if call is not None and call.queue == name:
                members.append(self.agent(agent))
        members.sort(key=lambda m: (m["name"] or "", m["interface"]))
        waiting = self.waiting(queue)
        oldest = min((e.joined_at for e in queue.entries.values()), default=None)
        counts = {state: 0 for state in COUNTED_STATES}
        for member in members:
            if member["state"] in counts:
                counts[member["state"]] += 1
        counts["logged_in"] = sum(
            1 for m in members if m["state"] not in ("unavailable", "logged_out")
        )
        threshold, source = self.config.threshold_and_source(name)
        return {
            "queue": name,
            "sl_threshold_seconds": threshold,
            "service_level_seconds": threshold,
            "service_level_source": source,  # "setting", "asterisk" or "default"
            "waiting": waiting,
            "waiting_count": len(queue.entries),
            "longest_wait_seconds": _seconds(self.now, oldest),
            "longest_wait_since": _moment(oldest),
            "agents": members,
            "counts": counts,
            "today": self.today.queue(name),
        }

    # --- the whole -------------------------------------------------------------------
    def agents(self) -> list[dict[str, Any]]:
        agents = [self.agent(a) for a in self.state.agents.values() if self.listed(a)]
        agents.sort(key=lambda m: (m["name"] or "", m["interface"]))
        return agents

    def totals(self) -> dict[str, Any]:
        calls = [c for c in self.state.calls.values() if not c.partial]
        waiting = 0
        oldest: float | None = None
        for queue in self.state.queues.values():
            waiting += len(queue.entries)
            for entry in queue.entries.values():
                if oldest is None or entry.joined_at < oldest:
                    oldest = entry.joined_at
        return {
            "calls_in_progress": len(calls),
            "talking": sum(1 for c in calls if _talking(c)),
            "waiting": waiting,
            "longest_wait_seconds": _seconds(self.now, oldest),
            "longest_wait_since": _moment(oldest),
        }

    def alerts(self) -> list[dict[str, Any]]:
        """What needs a supervisor's eye now (`supervisor.alerts`)."""
        if self._alerts is not None:
            return self._alerts
        return compute_alerts(
            self.state,
            lambda queue: self.today.queue(queue).get("service_level"),
            self.config.alerts,
            self.now,
        )

    def header(self) -> dict[str, Any]:
        return {"generated_at": iso(self.now), "day": self.today.day.isoformat()}

    def build(self) -> dict[str, Any]:
        return {
            **self.header(),
            "queues": [self.queue(name) for name in self.queue_names()],
            "agents": self.agents(),
            "totals": self.totals(),
            "alerts": self.alerts(),
        }


def _talking(call: Call) -> bool:
    return call.answered_at is not None and call.connected_agent is not None


def build_live_view(
    state: CallState,
    now: float,
    today: TodayFigures,
    config: ReportConfig,
    directory: Directory | None = None,
) -> dict[str, Any]:
    """The `/api/live` document for this moment."""
    return LiveBuilder(state, now, today, config, directory).build()
