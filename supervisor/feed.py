"""The live view pushed to supervisors over WebSockets: `live_update` messages.

The feed subscribes to the reducer's domain events and notes which queues and agents
they touch. A publisher task turns those notes into one message at most every
`interval` seconds (a burst of events costs one build), builds only the parts that
changed, serializes the message once and puts the same text on every supervisor's and
admin's socket (the hub's followers).

Messages (documented in docs/reports.md):

* ``{"type": "live_update", "full": true, "seq": N, …the GET /api/live document}`` —
  the whole picture: to a socket as soon as it connects, to everyone after the day
  changed, when the feed missed events (its queue overflowed), and every
  `full_interval` seconds as a safety net.
* ``{"type": "live_update", "full": false, "seq": N, "generated_at", "day",
  "queues": [changed queues, whole], "agents": [changed agents, whole],
  "removed_agents": [interfaces no longer listed], "totals": {…}}`` — replace the
  queues by `queue` and the agents by `interface`, drop the removed ones.

A queue's `waiting` list holds its first `waiting_limit` (50) callers in the pushed
messages (`waiting_count` counts them all, `longest_wait_since` is the oldest): with
thousands of calls waiting, a page shows the head of each queue and the figures, and
`GET /api/live` still lists every caller.

`seq` goes up by one per message sent to everyone; a full picture sent to one new
socket carries the `seq` of the last one, so deltas with a `seq` at or below it can
be skipped. Today's figures are re-read when the rollups change (a stored call) and
every 30 seconds (agents' state time); only the queues and agents whose figures
changed are sent. Wrap-up that runs out without an event is scheduled.

A tick with nobody's event touching a queue or an agent evaluates no alert: the alerts
are computed again only after such an event or at the next moment a limit passes (kept
from the last evaluation, the publisher wakes for it), once per update.

Nothing here knows about WebSockets: the hub is reached through :class:`Followers`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from kernel.agents import interface_key
from kernel.bus import Subscription
from supervisor.alerts import evaluate_alerts
from supervisor.config import ReportConfig
from supervisor.directory import CrmLiveDirectory
from supervisor.live import Directory, LiveBuilder
from supervisor.reports import TodayFigures
from telephony import domain as d
from telephony.reducer import CallState
from telephony.state import Agent

log = logging.getLogger(__name__)

EVENT_KINDS: tuple[type, ...] = (
    d.CallStarted,
    d.CallerIdentified,
    d.CallQueued,
    d.CallLeftQueue,
    d.AgentRinging,
    d.AgentRingEnded,
    d.CallAnswered,
    d.CallTransferred,
    d.CallEnded,
    d.AgentStateChanged,
    d.QueueChanged,
    d.SpySessionStarted,
    d.SpySessionEnded,
)
TODAY_REFRESH = 30.0  # seconds: agents' state time grows without a stored call
EVENT_BATCH = 2000
NUMBERS_PER_UPDATE = 500  # contacts fetched before an update (the rest right after it)
WAITING_LIMIT = 50  # callers listed per queue in the pushed messages (all are counted)


class Followers(Protocol):
    """Where the messages go: every supervisor's socket, or one new socket."""

    def follower_count(self) -> int: ...

    def to_followers_text(self, text: str) -> int: ...

    def to_client_text(self, client: Any, text: str) -> bool: ...


TodaySource = Callable[[float], Awaitable[TodayFigures]]


@dataclass(slots=True)
class FeedStats:
    events: int = 0
    builds: int = 0  # updates built (full or delta)
    full_builds: int = 0
    deltas: int = 0
    welcomes: int = 0
    last_build_seconds: float = 0.0
    last_size: int = 0
    missed_events: int = 0


Membership = frozenset[tuple[str, tuple[bool, str]]]


def _membership(agent: Agent) -> Membership:
    """An agent's queues with their pause flag and reason (what the agent's item shows)."""
    return frozenset((m.queue, (m.paused, m.paused_reason)) for m in agent.memberships.values())


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


class LiveFeed:
    def __init__(
        self,
        state: CallState,
        config: ReportConfig,
        today: TodaySource,
        followers: Followers,
        subscription: Subscription[d.DomainEvent],
        *,
        directory: CrmLiveDirectory | None = None,
        interval: float = 0.3,
        full_interval: float = 300.0,
        waiting_limit: int = WAITING_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.config = config
        self.today_source = today
        self.followers = followers
        self.subscription = subscription
        self.directory = directory
        self.interval = interval
        self.full_interval = full_interval
        self.waiting_limit = waiting_limit
        self.clock = clock
        self.stats = FeedStats()
        self.seq = 0
        self._wake = asyncio.Event()
        self._queues: set[str] = set()
        self._agents: set[str] = set()
        self._numbers: set[str] = set()
        self._full = True
        self._new_clients: list[Any] = []
        self._listed: set[str] = set()  # agents the followers have in their list
        self._memberships: dict[str, Membership] = {}  # as last sent, per agent
        self._today: TodayFigures | None = None
        self._today_at = float("-inf")
        self._today_stale = True
        self._last_flush = float("-inf")
        self._last_full = float("-inf")
        self._dropped_seen = 0
        self._alert_keys: list[str] = []  # the alerts as last sent
        # when the alerts were last evaluated, nothing could change them before this
        # moment unless an event touched a queue or an agent (a limit passes then)
        self._alerts_due = float("-inf")
        self.flushed = asyncio.Event()  # set after every update (tests, benchmarks)

    # --- inputs ----------------------------------------------------------------------
    def welcome(self, client: Any) -> None:
        """A supervisor's socket connected: it gets the whole picture at once."""
        self._new_clients.append(client)
        self._wake.set()

    def today_changed(self) -> None:
        """The rollups changed (calls were stored): re-read today's figures."""
        self._today_stale = True
        self._wake.set()

    def mark_all(self) -> None:
        """Send the whole picture to everyone with the next update."""
        self._full = True
        self._wake.set()

    def note(self, event: d.DomainEvent) -> None:
        """What an event touched (called for every event; cheap)."""
        self.stats.events += 1
        if isinstance(event, (d.CallQueued, d.CallLeftQueue, d.QueueChanged)):
            self._queues.add(event.queue)
            if isinstance(event, d.CallQueued) and event.caller_number:
                self._numbers.add(event.caller_number)
        elif isinstance(event, (d.AgentStateChanged, d.AgentRingEnded)):
            self._agents.add(event.agent)
        elif isinstance(event, (d.AgentRinging, d.CallAnswered)):
            self._agents.add(event.agent)
            if event.queue:
                self._queues.add(event.queue)
            if event.caller_number:
                self._numbers.add(event.caller_number)
        elif isinstance(event, d.CallTransferred):
            self._agents.add(event.to_agent)
            if event.from_agent:
                self._agents.add(event.from_agent)
        elif isinstance(event, (d.SpySessionStarted, d.SpySessionEnded)):
            spied = self.state.calls.get(event.spied_linkedid or "")
            if spied is not None and spied.connected_agent:
                self._agents.add(spied.connected_agent)  # "listened by" on its row
        elif isinstance(event, d.CallEnded):
            record = event.record
            if record.queue:
                self._queues.add(record.queue)
            for agent in (*record.agents, record.agent_interface):
                if agent:
                    self._agents.add(interface_key(agent))
        elif isinstance(event, (d.CallStarted, d.CallerIdentified)):
            if event.caller_number:
                self._numbers.add(event.caller_number)
            call = self.state.calls.get(event.linkedid)
            if call is not None:
                if call.queue:
                    self._queues.add(call.queue)
                for ring in call.rings.values():
                    self._agents.add(ring.agent)
                if call.connected_agent:
                    self._agents.add(call.connected_agent)

    # --- running ---------------------------------------------------------------------
    async def run(self) -> None:
        """Consume the events and publish the updates (a tracked background task)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._consume(), name="live-feed-events")
            group.create_task(self._publish(), name="live-feed-publish")

    async def _consume(self) -> None:
        while True:
            first = await self.subscription.get()
            for event in self.subscription.get_batch(first, EVENT_BATCH):
                self.note(event)
            if self.subscription.dropped != self._dropped_seen:
                self.stats.missed_events += self.subscription.dropped - self._dropped_seen
                self._dropped_seen = self.subscription.dropped
                log.warning("live feed: events were dropped; sending the whole picture")
                self._full = True
            self._wake.set()

    async def _publish(self) -> None:
        while True:
            if not self._new_clients and not self.followers.follower_count():
                # nobody watches: no deadline matters until someone connects (that wakes
                # us) — without this wait the loop would spin on deadlines left in the past
                await self._wake.wait()
            delay = self._next_deadline() - self.clock()
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            wait = self._last_flush + self.interval - self.clock()
            if wait > 0 and not self._new_clients:
                await asyncio.sleep(wait)  # let the rest of a burst come in: one build for all
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                # a bad moment must not end the feed: log it and send the whole picture next
                log.exception("live feed: building an update failed")
                self._full = True
                await asyncio.sleep(self.interval)

    def _next_deadline(self) -> float:
        """When to publish without an event: wrap-up ends, today's figures, the next day."""
        now = self.clock()
        deadline = min(self._today_at + TODAY_REFRESH, self._last_full + self.full_interval)
        deadline = min(deadline, self._next_midnight(now))
        for agent in self.state.agents.values():
            until = agent.wrapup_until
            if until is not None and until > self._last_flush and until < deadline:
                deadline = until
        if self._alerts_due < deadline:
            deadline = self._alerts_due  # a wait, a pause or a wrap-up passes its limit then
        return deadline

    def _next_midnight(self, now: float) -> float:
        tz = self.config.timezone
        local = datetime.fromtimestamp(now, UTC).astimezone(tz)
        tomorrow = (local + timedelta(days=1)).date()
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz).timestamp()

    # --- one update --------------------------------------------------------------------
    async def flush(self) -> None:
        """Build and send what changed since the last update (and welcome new sockets)."""
        now = self.clock()
        if not self._new_clients and not self.followers.follower_count():
            # nobody watches: read and build nothing; whoever connects gets it all
            self._queues.clear()
            self._agents.clear()
            self._numbers.clear()
            self._full = True
            self._last_flush = now
            self._alerts_due = float("-inf")
            return
        for agent in self.state.agents.values():
            until = agent.wrapup_until
            if until is not None and self._last_flush < until <= now:
                self._agents.add(agent.key)  # wrap-up ran out since the last update
        await self._refresh_today(now)
        directory = await self._directory()
        self._last_flush = now
        clients, self._new_clients = self._new_clients, []
        if now - self._last_full >= self.full_interval:
            self._full = True
        today = self._today_or_empty(now)
        changed = bool(self._queues or self._agents)
        if not (self._full or clients or changed or now >= self._alerts_due):
            # nothing the events touched and no limit passed: the alerts are the ones sent
            return
        alerts, due = evaluate_alerts(
            self.state, lambda q: today.queue(q).get("service_level"), self.config.alerts, now
        )
        self._alerts_due = due if due is not None else float("inf")
        alert_keys = [a["key"] for a in alerts]
        dirty = changed or alert_keys != self._alert_keys
        self._alert_keys = alert_keys
        if not (self._full or clients or dirty):
            return
        started = time.perf_counter()
        builder = LiveBuilder(
            self.state,
            now,
            today,
            self.config,
            directory,
            waiting_limit=self.waiting_limit,
            alerts=alerts,
        )
        if self._full:
            document = builder.build()
            self.seq += 1
            text = encode({"type": "live_update", "full": True, "seq": self.seq, **document})
            # new sockets are registered with the hub already: the broadcast reaches them
            self.followers.to_followers_text(text)
            self._listed = {a["interface"] for a in document["agents"]}
            self._memberships = {a.key: _membership(a) for a in self.state.agents.values()}
            self._full = False
            self._last_full = now
            self._queues.clear()
            self._agents.clear()
            self.stats.full_builds += 1
            self.stats.welcomes += len(clients)
            self.stats.last_size = len(text)
        else:
            delta = self._delta(builder) if dirty else None
            if delta is not None:
                self.seq += 1
            if clients:
                # the whole picture of this same moment first; the delta that follows has
                # the same `seq` and is skipped by these sockets
                document = builder.build()
                text = encode({"type": "live_update", "full": True, "seq": self.seq, **document})
                for client in clients:
                    self.followers.to_client_text(client, text)
                self.stats.full_builds += 1
                self.stats.welcomes += len(clients)
            if delta is not None:
                text = encode({"type": "live_update", "full": False, "seq": self.seq, **delta})
                self.followers.to_followers_text(text)
                self.stats.deltas += 1
                self.stats.last_size = len(text)
        self.stats.builds += 1
        self.stats.last_build_seconds = time.perf_counter() - started
        done, self.flushed = self.flushed, asyncio.Event()
        done.set()
        await self._after(builder)

    def _delta(self, builder: LiveBuilder) -> dict[str, Any]:
        queues = set(self._queues)
        keys = set(self._agents)
        # a member added to, removed from or paused in a queue changes no agent state
        # (so no event names the agent), but the agent's `queues` and pause show it
        for name in self._queues:
            queue = self.state.queues.get(name)
            candidates = set(queue.members) if queue is not None else set()
            candidates |= {k for k, sig in self._memberships.items() if name in dict(sig)}
            for key in candidates:
                agent = self.state.agents.get(key)
                if self._memberships.get(key) != (_membership(agent) if agent else frozenset()):
                    keys.add(key)
        agents: list[dict[str, Any]] = []
        removed: list[str] = []
        for key in sorted(keys):
            agent = self.state.agent_for(key)
            if agent is None or not builder.listed(agent):
                if key in self._listed:
                    removed.append(key)
                    self._listed.discard(key)
                if agent is not None:
                    queues |= set(agent.memberships)
                    self._memberships[agent.key] = _membership(agent)
                else:
                    self._memberships.pop(key, None)
                continue
            agents.append(builder.agent(agent))
            self._listed.add(agent.key)
            self._memberships[agent.key] = _membership(agent)
            queues |= builder.queues_of(agent)
        known = set(builder.queue_names())
        delta = {
            **builder.header(),
            "queues": [builder.queue(name) for name in sorted(queues) if name in known],
            "agents": agents,
            "removed_agents": removed,
            "totals": builder.totals(),
            "alerts": builder.alerts(),
        }
        self._queues.clear()
        self._agents.clear()
        return delta

    async def _after(self, builder: LiveBuilder) -> None:
        """Contacts asked for while building and not known yet: fetch them now, and send
        the parts that show them with the next update."""
        if self.directory is None or not self.directory.missing:
            return
        changed = await self.directory.fetch_missing()
        if not changed:
            return
        for queue in self.state.queues.values():
            for entry in queue.entries.values():
                if builder.number(entry.caller_num) in changed:
                    self._queues.add(queue.name)
        for agent in self.state.agents.values():
            current = builder.current_call(agent) if (agent.calls or agent.ringing) else None
            if current is not None and current["caller_number"] in changed:
                self._agents.add(agent.key)
        if self._queues or self._agents:
            self._wake.set()

    async def _directory(self) -> Directory | None:
        if self.directory is None:
            return None
        if await self.directory.refresh_people():
            self._agents.update(self.state.agents)  # logins or names changed
        if self._numbers:
            numbers = sorted(self._numbers)[:NUMBERS_PER_UPDATE]
            self._numbers.difference_update(numbers)
            await self.directory.fetch(numbers)
            if self._numbers:
                self._wake.set()
        return self.directory.directory()

    async def _refresh_today(self, now: float) -> None:
        fresh_day = self._today is not None and self._today.day == self._local_day(now)
        if not self._today_stale and fresh_day and now - self._today_at < TODAY_REFRESH:
            return
        self._today_stale = False
        try:
            fresh = await self.today_source(now)
        except Exception:
            log.exception("live feed: reading today's figures failed")
            self._today_at = now  # try again after TODAY_REFRESH
            return
        old = self._today
        self._today, self._today_at = fresh, now
        if old is None or old.day != fresh.day:
            self._full = True
            return
        for name in set(old.queues) | set(fresh.queues):
            if old.queues.get(name) != fresh.queues.get(name):
                self._queues.add(name)
        for key in set(old.agents) | set(fresh.agents):
            if old.agents.get(key) != fresh.agents.get(key):
                self._agents.add(key)

    def _local_day(self, now: float) -> date:
        return datetime.fromtimestamp(now, UTC).astimezone(self.config.timezone).date()

    def _today_or_empty(self, now: float) -> TodayFigures:
        if self._today is not None and self._today.day == self._local_day(now):
            return self._today
        return TodayFigures.empty(self._local_day(now))
