"""The agent sessions report: when each agent signed in to Trubka and out of it, how often
their phone joined and left the queues, and their time per state — time per pause
reason, wrap-up, occupancy — over a period.

Two sources:

- the sign-in book (`crm.session_events`): panel sign-ins/outs come from the sessions
  store; queue logins/logouts are written here, by :class:`QueueSessionRecorder`, from
  the agents' state changes (joining is leaving `logged_out`, leaving is entering it);
- the time per state of :mod:`supervisor.agent_time`, as the agents report sums it.

Occupancy is the share of the time in a queue and not paused (logged in − pause) spent
ringing, on calls or in wrap-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from crm.database import Database
from crm.models import User
from crm.session_events import AgentSessionEvent, SessionEventKind
from kernel.agents import agent_key, interface_key
from kernel.bus import Subscription
from supervisor.periods import ReportPeriod
from telephony.domain import AgentStateChanged, DomainEvent

log = logging.getLogger(__name__)

LOGGED_OUT = "logged_out"
BUSY_FIELDS = ("ringing_seconds", "on_call_seconds", "wrap_up_seconds")


def queue_events(events: Iterable[DomainEvent]) -> list[AgentSessionEvent]:
    """The queue logins and logouts among agents' state changes (pure)."""
    rows: list[AgentSessionEvent] = []
    for event in events:
        if not isinstance(event, AgentStateChanged) or event.state == event.previous:
            continue
        if event.state == LOGGED_OUT:
            kind = SessionEventKind.QUEUE_LOGOUT
        elif event.previous == LOGGED_OUT:
            kind = SessionEventKind.QUEUE_LOGIN
        else:
            continue
        at = datetime.fromtimestamp(event.at, UTC)
        rows.append(AgentSessionEvent(at=at, kind=kind, agent=interface_key(event.agent)[:128]))
    return rows


class QueueSessionRecorder:
    """Consumes agent state changes; writes the queue logins and logouts they mean."""

    def __init__(
        self,
        db: Database,
        subscription: Subscription[DomainEvent],
        *,
        batch_size: int = 500,
        retry_delay: float = 1.0,
    ) -> None:
        self.db = db
        self.subscription = subscription
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.idle = asyncio.Event()

    async def run(self) -> None:
        while True:
            self.idle.set()
            first = await self.subscription.get()
            self.idle.clear()
            rows = queue_events(self.subscription.get_batch(first, self.batch_size))
            if rows:
                await self._store(rows)

    async def _store(self, rows: list[AgentSessionEvent]) -> None:
        delay = self.retry_delay
        while True:
            try:
                async with self.db.transaction() as session:
                    session.add_all(rows)
                return
            except (SQLAlchemyError, OSError) as exc:
                log.error("storing queue logins failed, retrying in %.0fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                rows = [
                    AgentSessionEvent(at=r.at, kind=r.kind, agent=r.agent, user_id=r.user_id)
                    for r in rows
                ]


@dataclass(frozen=True, slots=True)
class AgentUser:
    """A Trubka user behind an agent interface (who signs in to the panel)."""

    user_id: int
    name: str


def occupancy(row: Mapping[str, Any]) -> float | None:
    """% of the time in a queue and not paused spent ringing, on calls or in wrap-up."""
    staffed = float(row.get("logged_in_seconds") or 0.0) - float(row.get("pause_seconds") or 0.0)
    busy = sum(float(row.get(name) or 0.0) for name in BUSY_FIELDS)
    return round(100.0 * busy / staffed, 1) if staffed > 0 else None


class AgentSessions:
    """The report; `agent_rows` are the agents report's rows for the same period."""

    def __init__(self, db: Database, tz: ZoneInfo) -> None:
        self.db = db
        self.tz = tz

    async def report(
        self,
        period: ReportPeriod,
        agent_rows: list[dict[str, Any]],
        users: Mapping[str, AgentUser],
    ) -> list[dict[str, Any]]:
        """One row per agent: the agents report's times plus sign-ins and queue logins.

        `users` maps agent keys (`kernel.agents.agent_key`) to the users behind them; a
        user who signed in but was never in a queue gets a row of their own
        (`agent_interface` null)."""
        since, until = period.utc_bounds(self.tz)
        in_period = (AgentSessionEvent.at >= since, AgentSessionEvent.at < until)
        panel = (
            select(
                AgentSessionEvent.user_id,
                AgentSessionEvent.kind,
                func.count(),
                func.min(AgentSessionEvent.at),
                func.max(AgentSessionEvent.at),
            )
            .where(*in_period, AgentSessionEvent.user_id.is_not(None))
            .group_by(AgentSessionEvent.user_id, AgentSessionEvent.kind)
        )
        queues = (
            select(AgentSessionEvent.agent, AgentSessionEvent.kind, func.count())
            .where(*in_period, AgentSessionEvent.agent != "")
            .group_by(AgentSessionEvent.agent, AgentSessionEvent.kind)
        )
        async with self.db.session() as session:
            panel_rows = (await session.execute(panel)).all()
            queue_rows = (await session.execute(queues)).all()
        signed: dict[int, dict[str, Any]] = {}
        for user_id, kind, count, first, last in panel_rows:
            if user_id is None:
                continue
            entry = signed.setdefault(
                user_id, {"sign_ins": 0, "first_sign_in": None, "last_sign_out": None}
            )
            if kind == SessionEventKind.PANEL_SIGN_IN:
                entry["sign_ins"] = int(count)
                entry["first_sign_in"] = first.isoformat() if first else None
            elif kind == SessionEventKind.PANEL_SIGN_OUT:
                entry["last_sign_out"] = last.isoformat() if last else None
        logins: dict[str, dict[str, int]] = {}
        spelled: dict[str, str] = {}
        for agent, kind, count in queue_rows:
            per_kind = logins.setdefault(agent_key(agent), {})
            per_kind[str(kind)] = per_kind.get(str(kind), 0) + int(count)
            spelled.setdefault(agent_key(agent), agent)
        listed = {agent_key(row["agent_interface"]) for row in agent_rows}
        extra = [_empty_agent(spelled[key]) for key in sorted(set(logins) - listed)]
        rows: list[dict[str, Any]] = []
        seen_users: set[int] = set()
        for row in [*agent_rows, *extra]:
            key = agent_key(row["agent_interface"])
            user = users.get(key)
            panel_entry = signed.get(user.user_id, {}) if user else {}
            if user is not None:
                seen_users.add(user.user_id)
            rows.append(_session_row(row, user, panel_entry, logins.get(key, {})))
        names = {u.user_id: u.name for u in users.values()}
        unnamed = sorted(set(signed) - seen_users - set(names))
        if unnamed:
            async with self.db.session() as session:
                found = await session.execute(
                    select(User.id, User.name).where(User.id.in_(unnamed))
                )
                names.update({int(i): str(n) for i, n in found})
        for user_id in sorted(set(signed) - seen_users):
            rows.append(
                _session_row(
                    _empty_agent(None),
                    AgentUser(user_id, names.get(user_id, f"#{user_id}")),
                    signed[user_id],
                    {},
                )
            )
        return rows


def _empty_agent(agent: str | None) -> dict[str, Any]:
    return {
        "agent_interface": agent,
        "agent_name": None,
        "logged_in_seconds": 0.0,
        "pause_seconds": 0.0,
        "wrap_up_seconds": 0.0,
        "on_call_seconds": 0.0,
        "ringing_seconds": 0.0,
        "available_seconds": 0.0,
        "pause_reasons": {},
    }


def _session_row(
    row: Mapping[str, Any],
    user: AgentUser | None,
    panel: Mapping[str, Any],
    logins: Mapping[str, int],
) -> dict[str, Any]:
    return {
        "agent_interface": row.get("agent_interface"),
        "agent_name": row.get("agent_name") or (user.name if user else None),
        "user_id": user.user_id if user else None,
        "panel_sign_ins": int(panel.get("sign_ins", 0)),
        "first_sign_in": panel.get("first_sign_in"),
        "last_sign_out": panel.get("last_sign_out"),
        "queue_logins": logins.get(SessionEventKind.QUEUE_LOGIN.value, 0),
        "queue_logouts": logins.get(SessionEventKind.QUEUE_LOGOUT.value, 0),
        "logged_in_seconds": float(row.get("logged_in_seconds") or 0.0),
        "available_seconds": float(row.get("available_seconds") or 0.0),
        "on_call_seconds": float(row.get("on_call_seconds") or 0.0),
        "pause_seconds": float(row.get("pause_seconds") or 0.0),
        "pause_reasons": dict(row.get("pause_reasons") or {}),
        "wrap_up_seconds": float(row.get("wrap_up_seconds") or 0.0),
        "occupancy": occupancy(row),
    }


SESSION_DEFINITIONS: dict[str, str] = {
    "panel_sign_ins": "Sign-ins to Trubka in the period (the login form or POST /api/session).",
    "first_sign_in": "The first sign-in in the period.",
    "last_sign_out": "The last sign-out in the period; a session that expires is not one.",
    "queue_logins": "How many times the agent's phone joined the queues (left logged_out).",
    "queue_logouts": "How many times the agent's phone left the queues (became logged_out).",
    "logged_in_seconds": "Time in a queue: available, ringing, on a call, wrap-up or paused.",
    "pause_reasons": "Seconds paused per reason.",
    "wrap_up_seconds": "Seconds in after-call work (wrap-up).",
    "occupancy": "% of (logged in − paused) spent ringing, on calls or in wrap-up.",
}
