"""The agent panel: pages (`/`, `/contacts`, `/contacts/{id}`), `/api/panel/…`, errors.

Its errors (`web.panel.errors`) are answered by the app's one handler (`web.errors`).

The live part (screen pops, agent state) comes over `/ws` from `screenpop.notifier`; the page's
script is `web/static/js/panel/`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from web.panel import api, pages

router = APIRouter()
router.include_router(api.router)
router.include_router(pages.router)


def install(app: FastAPI) -> None:
    """Add the panel's routes to the app."""
    app.include_router(router)
