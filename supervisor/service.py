"""The supervisor feature's parts, built and started by the composition root."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm.call_writer import CallWriter
from crm.database import Database
from supervisor.agent_time import AgentTimeRecorder
from supervisor.config import ReportConfig
from supervisor.live import LiveDirectory, NoDirectory, build_live_view, wanted
from supervisor.missed import CallbackTasks, MissedCalls
from supervisor.reports import ReportService
from supervisor.rollups import RollupStore
from telephony.domain import AgentStateChanged, DomainEvent
from telephony.reducer import CallState
from trubka.bus import EventBus
from trubka.tasks import TaskSet

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Supervisor:
    config: ReportConfig
    rollups: RollupStore
    reports: ReportService
    missed: MissedCalls
    agent_time: AgentTimeRecorder
    directory: LiveDirectory

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
        writer.after_save.append(self.rollups.after_save)

    def start(self, tasks: TaskSet) -> None:
        tasks.start(self._catch_up(), name="report-rollups-catch-up")
        tasks.start(self.agent_time.run(), name="agent-time")

    async def _catch_up(self) -> None:
        seen = await self.rollups.catch_up()
        if seen:
            log.info("report rollups: rolled up %d call(s) stored while away", seen)

    async def stop(self) -> None:
        """After the tasks are stopped: store the agent state intervals still open."""
        await self.agent_time.stop()

    async def live_view(self, state: CallState, now: float | None = None) -> dict[str, Any]:
        moment = time.time() if now is None else now
        from datetime import UTC, datetime

        today = await self.reports.today(datetime.fromtimestamp(moment, UTC))
        interfaces, numbers = wanted(state)
        directory = await self.directory.resolve(interfaces, numbers)
        return build_live_view(state, moment, today, self.config, directory)
