"""/api/deals: deals, their stage and their history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from crm.schemas import DealCreate, DealUpdate
from web.api.views import ERRORS, DealHistory, DealPage, DealView
from web.auth import CurrentActor, crm_of
from web.params import PathId, QueryId

router = APIRouter(responses=ERRORS, prefix="/deals", tags=["deals"])


@router.get("", response_model=DealPage)
async def list_deals(
    request: Request,
    actor: CurrentActor,
    contact_id: QueryId = None,
    company_id: QueryId = None,
    owner_id: QueryId = None,
    stage_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    items = await crm_of(request).deals.list(
        contact_id=contact_id,
        company_id=company_id,
        owner_id=owner_id,
        stage_id=stage_id,
        limit=limit,
    )
    return {"items": items}


@router.post("", status_code=201, response_model=DealView)
async def create_deal(body: DealCreate, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """A new deal; without `pipeline_id`/`stage_id`: the first stage of the first pipeline."""
    return await crm_of(request).deals.create(body, actor)


@router.get("/{deal_id}", response_model=DealView)
async def get_deal(deal_id: PathId, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return await crm_of(request).deals.get(deal_id)


@router.patch("/{deal_id}", response_model=DealView)
async def update_deal(
    deal_id: PathId, body: DealUpdate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    return await crm_of(request).deals.update(deal_id, body, actor)


@router.delete("/{deal_id}", status_code=204)
async def delete_deal(deal_id: PathId, request: Request, actor: CurrentActor) -> Response:
    await crm_of(request).deals.delete(deal_id, actor)
    return Response(status_code=204)


@router.get("/{deal_id}/history", response_model=DealHistory)
async def deal_history(deal_id: PathId, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """Every change of the deal (created, stage, amount, owner), oldest first."""
    return {"items": await crm_of(request).deals.history(deal_id)}
