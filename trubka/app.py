"""The composition root: builds the services and the web app, and runs them in order.

Start-up: migrate the database, start the workers (call writer …), then the telephony
edge (AMI client, FastAGI server). Shutdown runs the other way round: stop listening to
the PBX first, let the workers drain, then close the database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from trubka.services import Services
from trubka.settings import Settings
from web.app import create_app

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    services = Services.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.db.upgrade()
        services.tasks.start(services.call_writer.run(), name="call-writer")
        if services.ami is not None:
            await services.ami.start()
        try:
            yield
        finally:
            if services.ami is not None:
                await services.ami.stop()
            try:
                await services.call_writer.drain(timeout=5.0)
            except TimeoutError:
                log.warning("shutdown: some call records were not stored in time")
            await services.tasks.stop()
            await services.db.dispose()

    return create_app(services, lifespan=lifespan)
