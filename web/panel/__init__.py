"""The agent panel: pages (`/`, `/contacts`, `/contacts/{id}`), `/api/panel/…`, errors.

The live part (screen pops, agent state) comes over `/ws` from `screenpop.notifier`; the page's
script is `web/static/js/panel/`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from web.panel import api, pages
from web.panel.errors import install as install_errors

router = APIRouter()
router.include_router(api.router)
router.include_router(pages.router)


def install(app: FastAPI) -> None:
    """Add the panel's routes and its error handler to the app."""
    install_errors(app)
    app.include_router(router)
