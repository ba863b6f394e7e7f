"""Named letter templates over the API (docs/integrations.md, "Letter templates").

- `GET /api/mail-templates`, `GET /api/mail-templates/{id}`: any signed-in user (the
  card's letter form picks from them); a token needs `contacts:read`.
- `POST /api/mail-templates`, `PUT|DELETE /api/mail-templates/{id}`: admins; a token
  needs `contacts:write`. A subject or body that does not compile or render in the
  letters' sandbox is refused (422, `field` names it); `PUT` carries the `version` read
  (409 when someone changed it since).
- `POST /api/mail-templates/{id}/render {"contact_id", "mailbox_id"?}`: the template's
  subject and body as they would be sent to that contact.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm.mail.named_templates import MailTemplateCreate, MailTemplateUpdate
from crm.users import UserInfo
from web.api.views import ERRORS
from web.auth import CurrentUser, actor_of, crm_of, require_json, require_role
from web.i18n import N_
from web.params import PathId

router = APIRouter(
    prefix="/api", tags=["e-mail"], responses=ERRORS, dependencies=[Depends(require_json)]
)
Admin = Annotated[UserInfo, Depends(require_role("admin"))]

# The domain's fixed messages (crm.mail.named_templates), listed for the catalogs.
MESSAGES = (
    N_("no such letter template"),
    N_("a letter template with this name exists"),
    N_("this letter template was changed by someone else; reload it"),
    N_("enter the letter's text or choose a template"),
)


class MailTemplateView(BaseModel):
    """A named letter template; `subject` and `body` are templates over `contact`
    (`name`, `emails`, `company`), `user` (`name`) and `mailbox` (`name`, `address`)."""

    model_config = ConfigDict(extra="allow")

    id: int
    name: str
    subject: str
    body: str
    language: str = Field(description='"" any language, "en" or "ru"')
    version: int
    created_by_id: int | None
    updated_by_id: int | None
    created_at: str
    updated_at: str


class MailTemplateList(BaseModel):
    items: list[MailTemplateView]


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: Annotated[int, Field(ge=1, le=2**53)]
    mailbox_id: Annotated[int, Field(ge=1, le=2**53)] | None = None


class RenderedLetter(BaseModel):
    subject: str
    body: str


@router.get("/mail-templates", response_model=MailTemplateList)
async def list_mail_templates(request: Request, user: CurrentUser) -> dict[str, Any]:
    return {"items": await crm_of(request).mail_templates.list()}


@router.post("/mail-templates", status_code=201, response_model=MailTemplateView)
async def create_mail_template(
    body: MailTemplateCreate, request: Request, admin: Admin
) -> dict[str, Any]:
    return await crm_of(request).mail_templates.create(body, actor_of(admin))


@router.get("/mail-templates/{template_id}", response_model=MailTemplateView)
async def get_mail_template(
    template_id: PathId, request: Request, user: CurrentUser
) -> dict[str, Any]:
    return await crm_of(request).mail_templates.get(template_id)


@router.put("/mail-templates/{template_id}", response_model=MailTemplateView)
async def put_mail_template(
    template_id: PathId, body: MailTemplateUpdate, request: Request, admin: Admin
) -> dict[str, Any]:
    return await crm_of(request).mail_templates.update(template_id, body, actor_of(admin))


@router.delete("/mail-templates/{template_id}", status_code=204)
async def delete_mail_template(template_id: PathId, request: Request, admin: Admin) -> Response:
    await crm_of(request).mail_templates.delete(template_id, actor_of(admin))
    return Response(status_code=204)


@router.post("/mail-templates/{template_id}/render", response_model=RenderedLetter)
async def render_mail_template(
    template_id: PathId, body: RenderRequest, request: Request, user: CurrentUser
) -> dict[str, str]:
    return await crm_of(request).letters.render_for(
        template_id, body.contact_id, body.mailbox_id, actor_of(user)
    )
