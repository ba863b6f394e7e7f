"""The agent panel's API `/api/panel/…`, its errors, and what its page and API share.

Its pages (`/`, `/contacts`, `/contacts/{id}`) are `web.pages.panel`, with the other pages;
they use this package's strings (`web.panel.strings`). Its errors (`web.panel.errors`) are
answered by the app's one handler (`web.errors`).

The live part (screen pops, agent state) comes over `/ws` from `screenpop.notifier`; the page's
script is `web/static/js/panel/`.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from web.panel import after_call, api, controls_api

router = APIRouter()
router.include_router(api.router)
router.include_router(controls_api.router)  # /api/calls/{linkedid}/hangup, /transfer …
router.include_router(after_call.router)


def install(app: FastAPI) -> None:
    """Add the panel's API routes to the app."""
    app.include_router(router)
