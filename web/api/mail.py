"""E-mail over the API (docs/integrations.md, "E-mail").

- `GET|POST /api/mailboxes`, `GET|PATCH|DELETE /api/mailboxes/{id}` (admins): the
  mailboxes; the password is written, never read back (`has_password`).
- `GET /api/contacts/{id}/letters`: the contact's letters, newest first, and by thread.
- `POST /api/contacts/{id}/letters {"mailbox_id", "to"?, "subject", "body",
  "reply_to"?, "template_id"?}`: sends over the mailbox's SMTP (subject and body are
  templates over `contact`, `user`, `mailbox`; a letter template's where they are
  empty), keeps the letter in the timeline; 502 `mail_failed`
  when the mail server does not take it.
- `GET /api/letters/{id}/attachments/{n}`: an attachment's bytes, always as a download
  (never shown inline: letters are hostile input).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Request, Response

from crm.mail.letters import LetterSend
from crm.mail.mailboxes import MailboxCreate, MailboxUpdate
from crm.users import UserInfo
from web.api.mail_views import LetterList, LetterView, MailboxList, MailboxView
from web.api.views import ERRORS
from web.auth import CurrentUser, actor_of, crm_of, require_json, require_role
from web.i18n import N_
from web.params import PathId

router = APIRouter(
    prefix="/api", tags=["e-mail"], responses=ERRORS, dependencies=[Depends(require_json)]
)
Admin = Annotated[UserInfo, Depends(require_role("admin"))]
AttachmentNumber = Annotated[int, Path(ge=1, le=10_000)]

# The domain's fixed messages (crm.mail), listed for the catalogs (mail.po).
MESSAGES = (
    N_("no such mailbox"),
    N_("set TRUBKA_SECRET_KEY before storing mailbox passwords"),
    N_("the stored password cannot be read (was TRUBKA_SECRET_KEY changed?)"),
    N_("this contact has no e-mail address"),
    N_("this is not one of the contact's e-mail addresses"),
    N_("this mailbox belongs to another user"),
    N_("this mailbox cannot send letters"),
    N_("the mail server did not take the letter"),
    N_("no such letter"),
    N_("this attachment was not kept"),
    N_("this template has an error"),
    N_("the letter is too long"),
    N_("only an admin can manage mailboxes"),
)


@router.get("/mailboxes", response_model=MailboxList)
async def list_mailboxes(request: Request, admin: Admin) -> dict[str, Any]:
    return {"items": await crm_of(request).mailboxes.list()}


@router.post("/mailboxes", status_code=201, response_model=MailboxView)
async def create_mailbox(body: MailboxCreate, request: Request, admin: Admin) -> dict[str, Any]:
    return await crm_of(request).mailboxes.create(body, actor_of(admin))


@router.get("/mailboxes/{mailbox_id}", response_model=MailboxView)
async def get_mailbox(mailbox_id: PathId, request: Request, admin: Admin) -> dict[str, Any]:
    return await crm_of(request).mailboxes.get(mailbox_id)


@router.patch("/mailboxes/{mailbox_id}", response_model=MailboxView)
async def patch_mailbox(
    mailbox_id: PathId, body: MailboxUpdate, request: Request, admin: Admin
) -> dict[str, Any]:
    return await crm_of(request).mailboxes.update(mailbox_id, body, actor_of(admin))


@router.delete("/mailboxes/{mailbox_id}", status_code=204)
async def delete_mailbox(mailbox_id: PathId, request: Request, admin: Admin) -> Response:
    await crm_of(request).mailboxes.delete(mailbox_id, actor_of(admin))
    return Response(status_code=204)


@router.get("/contacts/{contact_id}/letters", response_model=LetterList)
async def contact_letters(contact_id: PathId, request: Request, user: CurrentUser) -> Any:
    return await crm_of(request).letters.for_contact(contact_id)


@router.post("/contacts/{contact_id}/letters", status_code=201, response_model=LetterView)
async def send_letter(
    contact_id: PathId, body: LetterSend, request: Request, user: CurrentUser
) -> Any:
    return await crm_of(request).letters.send(contact_id, body, actor_of(user))


@router.get(
    "/letters/{letter_id}/attachments/{n}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def letter_attachment(
    letter_id: PathId, n: AttachmentNumber, request: Request, user: CurrentUser
) -> Response:
    filename, _declared_type, content = await crm_of(request).letters.attachment(letter_id, n)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
