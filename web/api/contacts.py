"""/api/contacts: contacts, their timeline and card."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from crm.schemas import ContactCreate, ContactUpdate
from web.api.calls import with_recordings
from web.api.views import ERRORS, Card, ContactPage, ContactView, TimelinePage
from web.auth import CurrentActor, crm_of
from web.params import PathId, QueryId
from web.phone_refusal import phone_refusals

router = APIRouter(responses=ERRORS, prefix="/contacts", tags=["contacts"])
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]


@router.get("", response_model=ContactPage)
async def list_contacts(
    request: Request,
    actor: CurrentActor,
    owner_id: QueryId = None,
    company_id: QueryId = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    before_id: QueryId = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Contacts, newest first; `next` is the `before_id` of the next page."""
    return await crm_of(request).contacts.list(
        actor, owner_id=owner_id, company_id=company_id, tag=tag, before_id=before_id, limit=limit
    )


@router.post("", status_code=201, response_model=ContactView)
async def create_contact(
    body: ContactCreate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """Create a contact; its numbers' past calls are linked to it at once."""
    with phone_refusals(request):
        return await crm_of(request).contacts.create(body, actor)


@router.get("/{contact_id}", response_model=ContactView)
async def get_contact(contact_id: PathId, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return await crm_of(request).contacts.get(contact_id, actor)


@router.patch("/{contact_id}", response_model=ContactView)
async def update_contact(
    contact_id: PathId, body: ContactUpdate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """Change the fields given; `version` must be the one read (409 `conflict` otherwise)."""
    with phone_refusals(request):
        return await crm_of(request).contacts.update(contact_id, body, actor)


@router.delete("/{contact_id}", status_code=204)
async def delete_contact(contact_id: PathId, request: Request, actor: CurrentActor) -> Response:
    await crm_of(request).contacts.delete(contact_id, actor)
    return Response(status_code=204)


@router.get("/{contact_id}/timeline", response_model=TimelinePage)
async def contact_timeline(
    contact_id: PathId,
    request: Request,
    actor: CurrentActor,
    before: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Calls, notes, tasks and deal changes, newest first; pass `next` as `before` for more."""
    page = await crm_of(request).timeline.contact(contact_id, before=before, limit=limit)
    return await with_recordings(request, page)


@router.get("/{contact_id}/card", response_model=Card)
async def contact_card(
    contact_id: PathId,
    request: Request,
    actor: CurrentActor,
    timeline: Annotated[int, Query(ge=0, le=200)] = 50,
) -> dict[str, Any]:
    """The contact card: contact, company, owner, last calls, open tasks, deals, notes, timeline."""
    card = await crm_of(request).cards.for_contact(contact_id, timeline=timeline)
    return await with_recordings(request, card)
