"""The web application: HTTP API, pages and WebSockets, over the services it is given."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web import auth, health, metrics, panel, ws
from web.api import admin_settings as admin_settings_api
from web.api import admin_system as admin_system_api
from web.api import calls as calls_api
from web.api import forecast as forecast_api
from web.api import hooks as hooks_api
from web.api import leads as leads_api
from web.api import live as live_api
from web.api import mail as mail_api
from web.api import mail_templates as mail_templates_api
from web.api import notices as notices_api
from web.api import recordings as recordings_api
from web.api import reports as reports_api
from web.api import route
from web.api import router as api_router
from web.api import routing_rules as routing_rules_api
from web.api import rules as rules_api
from web.api import sessions_report as sessions_api
from web.api import status as status_api
from web.api import supervisor as supervisor_api
from web.api import wrapup_codes as wrapup_codes_api
from web.errors import install_error_handlers
from web.pages import admin as admin_pages
from web.pages import admin_rules as admin_rules_pages
from web.pages import admin_settings as admin_settings_pages
from web.pages import calls as calls_pages
from web.pages import login as login_pages
from web.pages import mail as mail_pages
from web.pages import panel as panel_pages
from web.pages import site as site_pages
from web.pages import status as status_pages
from web.pages import supervisor as supervisor_pages
from web.ports import WebServices
from web.security import SecurityMiddleware

STATIC_DIR = Path(__file__).with_name("static")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(services: WebServices, *, lifespan: Lifespan | None = None) -> FastAPI:
    app = FastAPI(
        title="Trubka",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url=None,  # web.pages.site serves /api/docs with local Swagger UI files
        redoc_url=None,
    )
    app.state.services = services
    app.add_middleware(SecurityMiddleware, max_body_bytes=lambda: services.settings.max_body_bytes)
    site_pages.install(app)  # before /static: Swagger UI's files under /static/swagger-ui
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(status_pages.router)
    app.include_router(status_api.router)
    app.include_router(metrics.router)
    app.include_router(health.router)  # /healthz, /readyz
    app.include_router(ws.router)
    app.include_router(route.router)
    app.include_router(routing_rules_api.router)
    app.include_router(admin_settings_api.router)
    app.include_router(wrapup_codes_api.router)
    app.include_router(admin_system_api.router)
    install_error_handlers(app)
    app.include_router(auth.router)
    app.include_router(login_pages.router)
    app.include_router(api_router)
    app.include_router(reports_api.router)
    app.include_router(forecast_api.router)  # /api/reports/forecast
    app.include_router(sessions_api.router)
    app.include_router(live_api.router)
    panel.install(app)
    app.include_router(panel_pages.router)
    app.include_router(mail_pages.router)  # POST /contacts/{id}/letters (the card's form)
    app.include_router(recordings_api.router)  # before calls_api: /api/calls/{id}/recording…
    app.include_router(calls_api.router)
    app.include_router(calls_pages.router)
    app.include_router(supervisor_api.router)
    app.include_router(supervisor_pages.router)
    app.include_router(admin_rules_pages.router)
    app.include_router(admin_settings_pages.router)
    app.include_router(hooks_api.router)  # /api/webhooks, /api/tokens
    app.include_router(mail_api.router)  # /api/mailboxes, /api/contacts/{id}/letters, /api/letters
    app.include_router(mail_templates_api.router)  # /api/mail-templates
    app.include_router(leads_api.router)  # /api/inbound/leads
    app.include_router(notices_api.router)  # /api/notices (the panel notices of rules)
    app.include_router(rules_api.router)  # /api/rules (triggers)
    app.include_router(admin_pages.router)
    return app
