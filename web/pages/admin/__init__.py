"""The administration pages under `/admin`: the dashboard (here), users, queues and
their members, the audit log of admin changes (one module each; their layout, role
dependencies and the table of admin pages in `layout`).

- `/admin` — the admin's landing page: users, agents online, queues, the AMI and
  FastAGI links;
- `/admin/users…` (`users`), `/admin/queues` (`queues`, read-only for supervisors),
  `/admin/audit` (`audit`), `/admin/wrapup-codes` (`wrapup_codes`), `/admin/webhooks` and
  `/admin/tokens` (`integrations`), `/admin/pipelines` (`pipelines`: stage probabilities),
  `/admin/triggers` (`triggers`).

Admins only, except where `layout.ADMIN_PAGES` lets supervisors read; an agent gets the
403 page, a visitor who is not signed in the sign-in form.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kernel.agents import AgentState
from web.api.status_mirror import mirrored, mirrored_counts, refresh
from web.deps import get_services
from web.i18n import N_
from web.pages.admin import (
    audit,
    integrations,
    mail_templates,
    mailboxes,
    pipelines,
    queues,
    triggers,
    users,
    wrapup_codes,
)
from web.pages.admin.layout import AdminPage, render_admin

router = APIRouter(include_in_schema=False)

_OFFLINE = {AgentState.LOGGED_OUT, AgentState.UNAVAILABLE}
AGI_STATES = (N_("listening"), N_("stopped"))  # shown translated on the dashboard


def _links(services: Any) -> dict[str, Any]:
    ami = getattr(services, "ami", None)
    agi = getattr(services, "agi", None)
    agi_state = None
    if agi is not None:
        try:
            agi_state = {"state": "listening", "port": agi.bound_port}
        except RuntimeError:
            agi_state = {"state": "stopped", "port": None}
    return {"ami": ami.status_json() if ami is not None else None, "agi": agi_state}


@router.get("/admin", response_class=HTMLResponse)
async def dashboard(request: Request, user: AdminPage) -> HTMLResponse:
    services = get_services(request)
    everyone = await services.crm.users.list()
    live = services.live
    online = sum(1 for agent in live.agents.values() if agent.state not in _OFFLINE)
    live_queues = set(live.queues)
    await refresh(services)
    document = mirrored(services)  # another node consumes AMI: its pushed live view
    if document is not None:
        online, live_queues = mirrored_counts(document)
    stored_queues = {m.queue for m in await queues.members_store(request).list()}
    counts = {
        "users": sum(1 for u in everyone if u.active),
        "disabled": sum(1 for u in everyone if not u.active),
        "agents_online": online,
        "queues": len(live_queues | stored_queues),
    }
    return render_admin(
        request,
        "admin/dashboard.html",
        {
            "counts": counts,
            "warning": await integrations.disabled_webhooks_warning(request, user),
            **_links(services),
        },
        user=user,
    )


router.include_router(users.router)
router.include_router(queues.router)
router.include_router(audit.router)
router.include_router(wrapup_codes.router)
router.include_router(integrations.router)
router.include_router(pipelines.router)
router.include_router(triggers.router)
router.include_router(mailboxes.router)
router.include_router(mail_templates.router)
