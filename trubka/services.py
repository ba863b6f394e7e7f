"""The services one Trubka process runs, built once by the composition root (`trubka.app`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from crm.call_records import CallStore
from crm.call_writer import CallWriter
from crm.database import Database
from supervisor.service import Supervisor
from telephony.domain import DomainEvent
from telephony.reducer import CallState, ReducerConfig
from trubka.bus import EventBus
from trubka.settings import Settings
from trubka.tasks import TaskSet


@dataclass(eq=False)
class Services:
    settings: Settings
    db: Database
    bus: EventBus[DomainEvent]
    live: CallState
    calls: CallStore
    call_writer: CallWriter
    supervisor: Supervisor
    tasks: TaskSet = field(default_factory=TaskSet)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        db = Database(settings.database_url)
        bus: EventBus[DomainEvent] = EventBus()
        calls = CallStore(db)
        from telephony.domain import CallEnded

        writer = CallWriter(calls, bus.subscribe("call-writer", kinds=[CallEnded], maxsize=100_000))
        live = CallState(
            config=ReducerConfig(
                region=settings.default_region,
                internal_max_digits=settings.internal_number_max_digits,
            )
        )
        supervisor = Supervisor.create(
            db,
            bus,
            timezone=settings.timezone,
            service_level_seconds=settings.service_level_seconds,
            queue_service_levels=settings.service_levels(),
        )
        supervisor.attach(writer)
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            live=live,
            calls=calls,
            call_writer=writer,
            supervisor=supervisor,
        )
