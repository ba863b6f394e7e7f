"""/api/search: contacts and companies by number (any format, or its last digits) or words."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from web.api.views import ERRORS, SearchResult
from web.auth import CurrentActor, crm_of

router = APIRouter(responses=ERRORS, tags=["search"])


@router.get("/search", response_model=SearchResult)
async def search(
    request: Request,
    actor: CurrentActor,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    return await crm_of(request).search.search(q, actor, limit=limit)
