"""/api/pipelines: the sales funnels and their stages (admins configure)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from crm.schemas import PipelineCreate, PipelineUpdate
from web.api.views import ERRORS, PipelinePage, PipelineView
from web.auth import CurrentActor, crm_of
from web.params import PathId

router = APIRouter(responses=ERRORS, prefix="/pipelines", tags=["deals"])


@router.get("", response_model=PipelinePage)
async def list_pipelines(request: Request, actor: CurrentActor) -> dict[str, Any]:
    return {"items": await crm_of(request).pipelines.list()}


@router.post("", status_code=201, response_model=PipelineView)
async def create_pipeline(
    body: PipelineCreate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    return await crm_of(request).pipelines.create(body, actor)


@router.get("/{pipeline_id}", response_model=PipelineView)
async def get_pipeline(
    pipeline_id: PathId, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    return await crm_of(request).pipelines.get(pipeline_id)


@router.patch("/{pipeline_id}", response_model=PipelineView)
async def update_pipeline(
    pipeline_id: PathId, body: PipelineUpdate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """Rename, add, reorder or remove stages (give existing stages by `id`)."""
    return await crm_of(request).pipelines.update(pipeline_id, body, actor)
