"""/api/notices: the panel notices of the signed-in user (`crm.notices`) — what rules'
`notify` actions told them, kept until read.

- `GET /api/notices?unread=1`: their notices, newest first (only the unread ones with
  `unread=1`), and how many are unread;
- `POST /api/notices/{id}/read`: one marked read (404 for a notice that is not theirs);
- `POST /api/notices/read-all`: every unread one marked read.

A user sees only their own notices, whatever their role; API tokens have no access.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from crm.notices import NoticeService
from crm.users import UserInfo
from web.api.views import ERRORS
from web.auth import CurrentUser, current_user, require_json
from web.deps import get_services
from web.params import PathId

router = APIRouter(
    prefix="/api/notices",
    tags=["notices"],
    responses=ERRORS,
    dependencies=[Depends(require_json), Depends(current_user)],
)


class NoticeView(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    text: str
    rule_id: int | None = Field(description="the rule that sent it")
    rule: str = Field(description="the rule's name when it sent it")
    event: str = Field(description="the event it was sent for, e.g. call.missed")
    contact_id: int | None
    created_at: datetime
    read_at: datetime | None = Field(description="null while unread")


class NoticePage(BaseModel):
    items: list[NoticeView]
    unread: int = Field(description="how many of the user's notices are unread")


class ReadAll(BaseModel):
    read: int = Field(description="how many notices were marked read")


def _service(request: Request) -> NoticeService:
    return NoticeService(get_services(request).db)


def _user_id(user: UserInfo) -> int:
    return user.id


@router.get("", response_model=NoticePage)
async def list_notices(request: Request, user: CurrentUser, unread: bool = False) -> dict[str, Any]:
    """The user's own notices, newest first (200 at most); `unread=1`: the unread ones."""
    return await _service(request).list(_user_id(user), unread=unread)


@router.post("/read-all", response_model=ReadAll)
async def read_all(request: Request, user: CurrentUser) -> dict[str, Any]:
    return {"read": await _service(request).read_all(_user_id(user))}


@router.post("/{notice_id}/read", response_model=NoticeView)
async def read_notice(notice_id: PathId, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Mark the user's notice read; another user's notice is 404 `not_found`."""
    return await _service(request).read(_user_id(user), notice_id)
