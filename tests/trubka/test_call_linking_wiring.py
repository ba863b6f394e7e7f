"""The composition root wires call linking: a call published on the bus is stored linked."""

from __future__ import annotations

import asyncio

from crm.access import Actor
from crm.database import Database
from crm.schemas import ContactCreate
from telephony.domain import CallEnded
from tests.crm.kit_builders import call
from tests.kit_server import InProcess
from trubka.app import build_app
from trubka.settings import load_settings


async def test_bus_to_linked_call_record(db: Database, database_url: str) -> None:
    app = build_app(load_settings(database_url=database_url))
    services = app.state.services
    async with InProcess(app):
        contact = await services.crm.contacts.create(
            ContactCreate(name="Звонящий", phones=["8 916 777-66-55"]), Actor.system()
        )
        record = call("+79167776655", ago=30)
        services.bus.publish([CallEnded(record)])
        async with asyncio.timeout(10):
            await services.drain_calls()
        stored = await services.calls.get(record.linkedid)
        assert stored is not None and stored.contact_id == contact["id"]
