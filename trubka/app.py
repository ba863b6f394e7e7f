"""The composition root: builds the services and the web app, and runs them in order.

Start-up: migrate the database, start the workers (call writer …), then the telephony
edge (AMI client, FastAGI server). Shutdown runs the other way round: stop listening to
the PBX first (the FastAGI server stops accepting and lets running sessions finish),
let the workers drain, then close the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from crm.sessions import purge_periodically
from trubka.services import Services
from trubka.settings import Settings
from web.app import create_app

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    services = Services.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.secret_key:
            log.warning(
                "TRUBKA_SECRET_KEY is not set: a random key is used, so forms opened before a "
                "restart (or on another node) will be refused after it; set it in production"
            )
        await services.db.upgrade()
        services.tasks.start(services.call_writer.run(), name="call-writer")
        await services.agent_directory.refresh()
        services.tasks.start(services.agent_directory.run(), name="agent-directory")
        pops = services.bus.subscribe("screen-pop", maxsize=50_000)
        services.tasks.start(services.notifier.run(pops), name="screen-pop")
        await services.recordings.start(services.tasks)
        services.tasks.start(purge_periodically(services.crm.sessions), name="session-purge")
        services.supervisor.start(services.tasks)
        if services.ami is not None:
            await services.ami.start()
        try:
            if services.settings.agi_enabled:
                await services.agi.start()
                services.tasks.start(services.agi.serve(), name="agi-server")
            yield
        finally:
            await services.agi.stop()
            if services.ami is not None:
                await services.ami.stop()
            try:
                async with asyncio.timeout(5.0):
                    await services.call_writer.drain()
            except TimeoutError:
                log.warning("shutdown: some call records were not stored in time")
            await services.notifier.stop()
            await services.recordings.stop()
            await services.tasks.stop()
            services.crm.close()
            await services.supervisor.stop()
            await services.db.dispose()

    return create_app(services, lifespan=lifespan)
