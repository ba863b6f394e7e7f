"""The other PBXes' consumers of the `ami` role: recordings ingest, after-call work, agent
time and queue sessions (TRUBKA_PBXES).

The first PBX's events feed these as the table of `trubka.wiring` says. Every other PBX
has a bus of its own (`trubka.pbx_edges`); these subscribe to it:

    event (published by)          subscription              consumer (package)
    ----------------------------  ------------------------  -------------------------------
    RecordingStarted, Recording-  pbx-<name>-recordings     Ingest.consume: that PBX's
      Stopped, CallEnded                                    recording jobs, stamped with
                                                            its name, its files read from
                                                            its `recordings_spool`
                                                            (recordings)
    CallEnded                     pbx-<name>-after-call     AfterCallWork.run: the same
                                                            service as the first PBX's
                                                            (its holds are per user); the
                                                            call's PBX's live state tells
                                                            the queue memberships (crm)
    AgentStateChanged             pbx-<name>-agent-time     AgentTimeRecorder.run: time
                                                            per agent state, added to the
                                                            same rows (supervisor)
    AgentStateChanged             pbx-<name>-agent-sessions QueueSessionRecorder.run: queue
                                                            logins and logouts (supervisor)

They run on the node that consumes AMI's events (`Services.start`, role `ami`), like the
first PBX's.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.after_call_work import KINDS as AFTER_CALL_KINDS
from crm.after_call_work import AfterCallWork
from crm.database import Database
from kernel.bus import EventBus, Subscription
from kernel.task_set import TaskSet
from recordings.ingest import KINDS as RECORDING_KINDS
from recordings.ingest import Ingest
from recordings.service import RecordingService
from supervisor.agent_sessions import QueueSessionRecorder
from supervisor.agent_time import AgentTimeRecorder
from supervisor.config import ReportConfig
from telephony.domain import AgentStateChanged, DomainEvent
from telephony.pbxes import PbxConfig

BOUND = 100_000  # events a consumer may fall behind before the bus drops its events


@dataclass(eq=False)
class PbxConsumers:
    """One other PBX's recordings ingest, after-call work, agent time and queue sessions."""

    name: str
    ingest: Ingest
    to_recordings: Subscription[DomainEvent]
    after_call: AfterCallWork
    to_after_call: Subscription[DomainEvent]
    agent_time: AgentTimeRecorder
    queue_sessions: QueueSessionRecorder

    def start(self, tasks: TaskSet) -> None:
        name = self.name
        tasks.start(self.ingest.consume(self.to_recordings), name=f"pbx-{name}-recordings")
        tasks.start(self.after_call.run(self.to_after_call), name=f"pbx-{name}-after-call")
        tasks.start(self.agent_time.run(), name=f"pbx-{name}-agent-time")
        tasks.start(self.queue_sessions.run(), name=f"pbx-{name}-agent-sessions")

    async def stop(self) -> None:
        """After the tasks are stopped: store the agent state intervals still open."""
        await self.agent_time.stop()


def _events(
    bus: EventBus[DomainEvent], name: str, kinds: tuple[type, ...]
) -> Subscription[DomainEvent]:
    return bus.subscribe(name, kinds=kinds, maxsize=BOUND)


def pbx_consumers(
    pbx: PbxConfig,
    bus: EventBus[DomainEvent],
    *,
    db: Database,
    recordings: RecordingService,
    after_call: AfterCallWork,
    reports: ReportConfig,
) -> PbxConsumers:
    """Subscribe PBX `pbx`'s consumers to its bus (before anything publishes)."""
    name = pbx.name
    return PbxConsumers(
        name=name,
        ingest=recordings.add_pbx(name, pbx.recordings_spool),
        to_recordings=_events(bus, f"pbx-{name}-recordings", RECORDING_KINDS),
        after_call=after_call,
        to_after_call=_events(bus, f"pbx-{name}-after-call", AFTER_CALL_KINDS),
        agent_time=AgentTimeRecorder(
            db, _events(bus, f"pbx-{name}-agent-time", (AgentStateChanged,)), reports
        ),
        queue_sessions=QueueSessionRecorder(
            db, _events(bus, f"pbx-{name}-agent-sessions", (AgentStateChanged,))
        ),
    )
