"""The web app over the services `trubka.wiring` builds, and the lifespan that runs them.

Start-up: migrate the database, start the workers (call writer …), then the telephony
edge (AMI client, FastAGI server). Shutdown runs the other way round: stop listening to
the PBX first (the FastAGI server stops accepting and lets running sessions finish),
let the workers drain, then close the database. A node without the `web` role serves
`/healthz`, `/readyz` and `/metrics` only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from trubka.settings import Settings
from trubka.wiring import Services
from web.app import create_app
from web.health import create_probe_app

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
        await services.start()
        try:
            await services.listen()
            yield
        finally:
            await services.stop()

    if "web" not in settings.roles:  # health and metrics only (trubka.node)
        return create_probe_app(services, lifespan=lifespan)
    return create_app(services, lifespan=lifespan)
