"""The supervisor feature's parts, built and started by the composition root.

`Supervisor.create` builds the report services, the agent-time recorder, the audit log,
the actions (when given the live state and the PBX) and the live feed (when given the
sockets to push to); `start` runs their background tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from crm.call_writer import CallWriter
from crm.database import Database
from kernel.bus import EventBus
from kernel.task_set import TaskSet
from supervisor.actions import SupervisorActions
from supervisor.agent_time import AgentTimeRecorder
from supervisor.audit import AuditLog
from supervisor.config import ReportConfig
from supervisor.directory import CrmLiveDirectory
from supervisor.feed import EVENT_KINDS, Followers, LiveFeed
from supervisor.live import LiveBuilder, LiveDirectory, NoDirectory, wanted
from supervisor.missed import CallbackTasks, MissedCalls
from supervisor.reports import ReportService, TodayFigures
from supervisor.rollups import RollupStore
from telephony.actions import AmiActions
from telephony.domain import AgentStateChanged, DomainEvent
from telephony.reducer import CallState

log = logging.getLogger(__name__)

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
    _today: tuple[tuple[date, int], float, TodayFigures] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        db: Database,
        bus: EventBus[DomainEvent],
        *,
        timezone: str,
        service_level_seconds: int,
        queue_service_levels: Mapping[str, int],
        callback_tasks: CallbackTasks | None = None,
        directory: LiveDirectory | None = None,
        live: CallState | None = None,
        followers: Followers | None = None,
        pbx: Callable[[], AmiActions | None] | None = None,
        live_interval: float = 0.3,
        spy_ring_seconds: float = 20.0,
    ) -> Supervisor:
        """The report parts always; the actions with `live` and `pbx`; the WebSocket
        feed with `live` and `followers`."""
        config = ReportConfig.create(timezone, service_level_seconds, queue_service_levels)
        subscription = bus.subscribe("agent-time", kinds=[AgentStateChanged], maxsize=100_000)
        audit = AuditLog(db)
        supervisor = cls(
            config=config,
            rollups=RollupStore(db, config),
            reports=ReportService(db, config),
            missed=MissedCalls(db, config, callback_tasks),
            agent_time=AgentTimeRecorder(db, subscription, config),
            directory=directory or NoDirectory(),
            audit=audit,
        )
        if live is not None and pbx is not None:
            supervisor.actions = SupervisorActions(
                live, pbx, audit, spy_ring_seconds=spy_ring_seconds
            )
        if live is not None and followers is not None:
            supervisor.feed = LiveFeed(
                live,
                config,
                supervisor.today,
                followers,
                bus.subscribe("live-feed", kinds=EVENT_KINDS, maxsize=100_000),
                directory=directory if isinstance(directory, CrmLiveDirectory) else None,
                interval=live_interval,
            )
            supervisor.rollups.listeners.append(supervisor.feed.today_changed)
        return supervisor

    def attach(self, writer: CallWriter) -> None:
        """Keep the rollups up to date as the call writer stores calls."""
        writer.after_save.append(self.rollups.notify)

    def start(self, tasks: TaskSet) -> None:
        """The rollup maintainer (it first catches up with calls stored while away) and
        the agent state recorder."""
        tasks.start(self.rollups.run(), name="report-rollups")
        tasks.start(self.agent_time.run(), name="agent-time")
        if self.feed is not None:
            tasks.start(self.feed.run(), name="live-feed")

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
