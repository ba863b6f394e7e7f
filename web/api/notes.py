"""/api/notes: notes on contacts and companies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from crm.schemas import NoteCreate, NoteUpdate
from web.api.views import ERRORS, NotePage, NoteView
from web.auth import CurrentActor, crm_of
from web.params import PathId, QueryId

router = APIRouter(responses=ERRORS, prefix="/notes", tags=["notes"])


@router.get("", response_model=NotePage)
async def list_notes(
    request: Request,
    actor: CurrentActor,
    contact_id: QueryId = None,
    company_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    items = await crm_of(request).notes.list(
        contact_id=contact_id, company_id=company_id, limit=limit
    )
    return {"items": items}


@router.post("", status_code=201, response_model=NoteView)
async def create_note(body: NoteCreate, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return await crm_of(request).notes.create(body, actor)


@router.get("/{note_id}", response_model=NoteView)
async def get_note(note_id: PathId, request: Request, actor: CurrentActor) -> dict[str, Any]:
    return await crm_of(request).notes.get(note_id)


@router.patch("/{note_id}", response_model=NoteView)
async def update_note(
    note_id: PathId, body: NoteUpdate, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    return await crm_of(request).notes.update(note_id, body, actor)


@router.delete("/{note_id}", status_code=204)
async def delete_note(note_id: PathId, request: Request, actor: CurrentActor) -> Response:
    await crm_of(request).notes.delete(note_id, actor)
    return Response(status_code=204)
