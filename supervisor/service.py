"""The supervisor feature's parts, built and started by the composition root."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from crm.call_writer import CallWriter
from crm.database import Database
from supervisor.agent_time import AgentTimeRecorder
from supervisor.config import ReportConfig
from supervisor.live import LiveDirectory, NoDirectory, build_live_view, wanted
from supervisor.missed import CallbackTasks, MissedCalls
from supervisor.reports import ReportService, TodayFigures
from supervisor.rollups import RollupStore
from telephony.domain import AgentStateChanged, DomainEvent
from telephony.reducer import CallState
from trubka.bus import EventBus
from trubka.tasks import TaskSet

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
    ) -> Supervisor:
        config = ReportConfig.create(timezone, service_level_seconds, queue_service_levels)
        subscription = bus.subscribe("agent-time", kinds=[AgentStateChanged], maxsize=100_000)
        return cls(
            config=config,
            rollups=RollupStore(db, config),
            reports=ReportService(db, config),
            missed=MissedCalls(db, config, callback_tasks),
            agent_time=AgentTimeRecorder(db, subscription, config),
            directory=directory or NoDirectory(),
        )

    def attach(self, writer: CallWriter) -> None:
        """Keep the rollups up to date as the call writer stores calls."""
        writer.after_save.append(self.rollups.notify)

    def start(self, tasks: TaskSet) -> None:
        """The rollup maintainer (it first catches up with calls stored while away) and
        the agent state recorder."""
        tasks.start(self.rollups.run(), name="report-rollups")
        tasks.start(self.agent_time.run(), name="agent-time")

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

    async def live_view(self, state: CallState, now: float | None = None) -> dict[str, Any]:
        """The live view document (what `GET /api/live` answers and the feed pushes)."""
        moment = time.time() if now is None else now
        today = await self.today(moment)
        interfaces, numbers = wanted(state)
        directory = await self.directory.resolve(interfaces, numbers)
        return build_live_view(state, moment, today, self.config, directory)
