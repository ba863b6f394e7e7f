"""/api/companies: companies (with their numbers) and their timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from crm.schemas import CompanyCreate, CompanyUpdate
from web.api.calls import with_recordings
from web.api.views import ERRORS, CompanyPage, CompanyView, ContactPage, TimelinePage
from web.auth import CurrentActor, crm_of
from web.params import PathId, QueryId
from web.phone_refusal import phone_refusals

router = APIRouter(responses=ERRORS, prefix="/companies", tags=["companies"])
Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("", response_model=CompanyPage)
async def list_companies(
    request: Request, actor: CurrentActor, before_id: QueryId = None, limit: Limit = 50
) -> dict[str, Any]:
    return await crm_of(request).companies.list(actor, before_id=before_id, limit=limit)


@router.post("", status_code=201, response_model=CompanyView)
async def create_company(
    body: CompanyCreate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    with phone_refusals(request):
        return await crm_of(request).companies.create(body, actor)


@router.get("/{company_id}", response_model=CompanyView)
async def get_company(company_id: PathId, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return await crm_of(request).companies.get(company_id, actor)


@router.patch("/{company_id}", response_model=CompanyView)
async def update_company(
    company_id: PathId, body: CompanyUpdate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    with phone_refusals(request):
        return await crm_of(request).companies.update(company_id, body, actor)


@router.delete("/{company_id}", status_code=204)
async def delete_company(company_id: PathId, request: Request, actor: CurrentActor) -> Response:
    await crm_of(request).companies.delete(company_id, actor)
    return Response(status_code=204)


@router.get("/{company_id}/contacts", response_model=ContactPage)
async def company_contacts(
    company_id: PathId,
    request: Request,
    actor: CurrentActor,
    before_id: QueryId = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    crm = crm_of(request)
    await crm.companies.get(company_id)
    return await crm.contacts.list(actor, company_id=company_id, before_id=before_id, limit=limit)


@router.get("/{company_id}/timeline", response_model=TimelinePage)
async def company_timeline(
    company_id: PathId,
    request: Request,
    actor: CurrentActor,
    before: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """The company's and its contacts' calls, its notes, tasks and deal changes, newest first."""
    page = await crm_of(request).timeline.company(company_id, before=before, limit=limit)
    return await with_recordings(request, page)
