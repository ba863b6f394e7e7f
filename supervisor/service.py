"""The supervisor feature's parts, built and started by the composition root.

`Supervisor.create` builds the report services, the agent-time recorder, the audit log,
the actions (when given the live state and the PBX) and the live feed (when given the
sockets to push to); `start` runs their background tasks. The composition root
(`trubka.wiring`) subscribes them to the bus and hands in the subscriptions, and
subscribes :meth:`Supervisor.calls_stored` to the call writer's `CallsStored`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from crm.database import Database
from crm.events import CallsStored
from crm.queue_members import QueueMemberStore
from crm.users import UserService
from kernel.bus import Subscription
from kernel.task_set import TaskSet
from supervisor.actions import SupervisorActions
from supervisor.agent_time import AgentTimeRecorder
from supervisor.alerts import AlertThresholds
from supervisor.audit import AuditLog
from supervisor.config import ReportConfig
from supervisor.directory import CrmLiveDirectory
from supervisor.feed import Followers, LiveFeed
from supervisor.live import LiveBuilder, LiveDirectory, NoDirectory, wanted
from supervisor.missed import CallbackTasks, MissedCalls
from supervisor.people import People
from supervisor.queue_admin import QueueAdmin
from supervisor.reports import AgentKeys, ReportService, TodayFigures
from supervisor.rollups import RollupStore
from telephony.actions import AmiActions
from telephony.domain import DomainEvent
from telephony.reducer import CallState

log = logging.getLogger(__name__)


def _no_pbx() -> AmiActions | None:
    return None


TODAY_MAX_AGE = 30.0  # seconds


@dataclass(eq=False)
class Supervisor:
    config: ReportConfig
    rollups: RollupStore
    reports: ReportService
    missed: MissedCalls
    agent_time: AgentTimeRecorder
    directory: LiveDirectory
    audit: AuditLog
    actions: SupervisorActions | None = None
    feed: LiveFeed | None = None
    queue_admin: QueueAdmin | None = None  # queue memberships administered from Trubka
    people: People | None = None  # users as an admin changes them, audited
    _today: tuple[tuple[date, int], float, TodayFigures] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        db: Database,
        agent_states: Subscription[DomainEvent],
        *,
        timezone: str,
        service_level_seconds: int,
        queue_service_levels: Mapping[str, int],
        asterisk_service_levels: Callable[[], Mapping[str, int]] | None = None,
        agent_keys: AgentKeys | None = None,
        callback_tasks: CallbackTasks | None = None,
        directory: LiveDirectory | None = None,
        live: CallState | None = None,
        followers: Followers | None = None,
        pbx: Callable[[], AmiActions | None] | None = None,
        live_events: Subscription[DomainEvent] | None = None,
        live_interval: float = 0.3,
        spy_ring_seconds: float = 20.0,
        alerts: AlertThresholds | None = None,
        users: UserService | None = None,
    ) -> Supervisor:
        """The report parts always; the actions with `live` and `pbx`; the WebSocket
        feed with `live`, `followers` and `live_events`.

        `agent_states`: the bus's `AgentStateChanged` events (the agent-time recorder);
        `live_events`: the events the live feed looks at (`supervisor.feed.EVENT_KINDS`).
        When the rollups change, the feed is to re-read today's figures: the composition
        root connects `rollups.listeners` to `feed.today_changed`.

        `asterisk_service_levels`: each queue's `servicelevel` as Asterisk reports it (a
        setting overrides it); `agent_keys`: who the agents report may list (see
        :mod:`supervisor.pbx_facts`)."""
        config = ReportConfig.create(
            timezone,
            service_level_seconds,
            queue_service_levels,
            asterisk_service_levels,
            alerts=alerts,  # the live view's alert thresholds (supervisor.alerts)
        )
        audit = AuditLog(db)
        supervisor = cls(
            config=config,
            rollups=RollupStore(db, config),
            reports=ReportService(db, config, agent_keys),
            missed=MissedCalls(db, config, callback_tasks),
            agent_time=AgentTimeRecorder(db, agent_states, config),
            directory=directory or NoDirectory(),
            audit=audit,
        )
        if live is not None and pbx is not None:
            supervisor.actions = SupervisorActions(
                live, pbx, audit, spy_ring_seconds=spy_ring_seconds
            )
        users = users if users is not None else UserService(db)
        supervisor.queue_admin = QueueAdmin(
            QueueMemberStore(db), users, audit, live, pbx if pbx is not None else _no_pbx
        )
        supervisor.people = People(users, audit, supervisor.queue_admin)
        if live is not None and followers is not None and live_events is not None:
            supervisor.feed = LiveFeed(
                live,
                config,
                supervisor.today,
                followers,
                live_events,
                directory=directory if isinstance(directory, CrmLiveDirectory) else None,
                interval=live_interval,
            )
        return supervisor

    async def calls_stored(self, event: CallsStored) -> None:
        """`CallsStored` consumer: keep the rollups up to date as calls are stored (wakes
        the rollup maintainer; never waits for it)."""
        await self.rollups.notify(event.records)

    def start(self, tasks: TaskSet, *, rollups: bool = True, agent_time: bool = True) -> None:
        """The rollup maintainer (it first catches up with calls stored while away) and
        the agent state recorder (each unless this node's roles leave it out)."""
        if rollups:
            tasks.start(self.rollups.run(), name="report-rollups")
        if agent_time:
            tasks.start(self.agent_time.run(), name="agent-time")
        if self.feed is not None:
            tasks.start(self.feed.run(), name="live-feed")
        if self.queue_admin is not None:
            tasks.start(self.queue_admin.run(), name="queue-members")

    async def stop(self) -> None:
        """After the tasks are stopped: store the agent state intervals still open."""
        await self.agent_time.stop()

    async def today(self, now: float) -> TodayFigures:
        """Today's figures, read again when calls were rolled up, the day changed, or
        (for the agents' state times) after `TODAY_MAX_AGE` seconds."""
        day = datetime.fromtimestamp(now, UTC).astimezone(self.config.timezone).date()
        cached = self._today
        if (
            cached is not None
            and cached[0] == (day, self.rollups.version)
            and now - cached[1] < TODAY_MAX_AGE
        ):
            return cached[2]
        figures = await self.reports.today(datetime.fromtimestamp(now, UTC))
        self._today = ((day, self.rollups.version), now, figures)
        return figures

    async def live_view(
        self, state: CallState, now: float | None = None, *, waiting_limit: int | None = None
    ) -> dict[str, Any]:
        """The live view document (what `GET /api/live` answers and the feed pushes);
        with `waiting_limit`, each queue lists that many of its waiting callers."""
        moment = time.time() if now is None else now
        today = await self.today(moment)
        interfaces, numbers = wanted(state)
        directory = await self.directory.resolve(interfaces, numbers)
        return LiveBuilder(
            state, moment, today, self.config, directory, waiting_limit=waiting_limit
        ).build()
