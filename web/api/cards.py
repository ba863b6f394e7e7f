"""/api/card: the screen-pop card for a phone number."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kernel.phones import normalize
from web.api.calls import with_recordings
from web.api.views import ERRORS, Card
from web.auth import CurrentActor, crm_of

router = APIRouter(responses=ERRORS, tags=["cards"])


@router.get("/card", response_model=Card)
async def card_for_number(
    request: Request,
    actor: CurrentActor,
    number: Annotated[str, Query(min_length=1, max_length=64)],
    timeline: Annotated[int, Query(ge=0, le=200)] = 0,
) -> dict[str, Any]:
    """Who calls from `number` (any format): contact, company, owner, calls, tasks, deals."""
    crm = crm_of(request)
    e164 = normalize(number, crm.region) or number.strip()
    card = await crm.cards.for_number(e164, timeline=timeline)
    return await with_recordings(request, card)
