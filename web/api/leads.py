"""`POST /api/inbound/leads`: a lead from a website form or another system (an API token
with the scope `leads`; docs/integrations.md).

Body `{"name", "phone", "email", "company", "source", "comment", "deal": {"title",
"amount"}}` (a phone or an e-mail is needed); answers 201 `{"contact_id", "deal_id",
"task_id", "created"}`. An `Idempotency-Key` header makes a repeat answer the same (with
`Idempotent-Replayed: true`) without a second contact, deal or task. Errors name the
field, in the request's language (`lang` cookie or Accept-Language: ru, en). The work is
`crm.leads.LeadService`.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crm.errors import NotAuthenticated
from crm.hooks.tokens import TokenUse
from crm.leads import LeadIn, LeadService
from web.api.views import ERRORS
from web.auth import CurrentUser, crm_of, require_json
from web.deps import get_services
from web.i18n import N_, translations

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/inbound",
    tags=["integrations"],
    responses=ERRORS,
    dependencies=[Depends(require_json)],
)

TOKEN_NEEDED = N_("this endpoint takes an API token: Authorization: Bearer trk_…")
TASK_TITLE = N_("Call back the new lead: {name}")
TASK_TITLE_FROM = N_("Call back the new lead from {source}: {name}")
# crm.leads' refusals, shown in the request's language (leads.po)
LEAD_MESSAGES = (
    N_("phone, email: give at least one of them; the contact is found or created by them"),
    N_("phone: not a phone number; write it with its area code, e.g. +7 495 123-45-67"),
    N_("this Idempotency-Key was already used with another request"),
    N_("Idempotency-Key: at most 200 characters"),
)


class LeadAnswerView(BaseModel):
    contact_id: int
    deal_id: int
    task_id: int
    created: bool


def task_title(lang: str, lead: LeadIn) -> str:
    gettext = translations(lang).gettext
    name = lead.name or lead.phone or lead.email or ""
    if lead.source:
        return gettext(TASK_TITLE_FROM).format(source=lead.source, name=name)
    return gettext(TASK_TITLE).format(name=name)


async def default_user_id(request: Request) -> int | None:
    login = str(getattr(get_services(request).settings, "lead_assignee", "") or "")
    if not login:
        return None
    user = await crm_of(request).users.get_by_login(login)
    if user is None or not user.active:
        log.warning(
            "TRUBKA_LEAD_ASSIGNEE=%r is no active user: leads go to the token's admin", login
        )
        return None
    return user.id


@router.post("/leads", status_code=201, response_model=LeadAnswerView)
async def inbound_lead(
    body: LeadIn,
    request: Request,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Create or complete the contact, open a deal, give a task (docs/integrations.md)."""
    token: TokenUse | None = getattr(request.state, "api_token", None)
    if token is None:
        raise NotAuthenticated(TOKEN_NEEDED)
    settings = get_services(request).settings
    service = LeadService(crm_of(request).db, region=settings.default_region)
    answer = await service.receive(
        body,
        token_id=token.id,
        sender_id=user.id,
        title=task_title,
        default_user_id=await default_user_id(request),
        idempotency_key=(idempotency_key or "").strip() or None,
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.to_json(), status_code=201, headers=headers)
