"""The card's letter form: `POST /contacts/{id}/letters` sends over the chosen mailbox
(`crm.mail.letters`) and comes back to the card; a refusal shows the form again with
what was typed and the reason, in the user's language."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from crm.errors import CrmError
from crm.mail.letters import LetterSend
from crm.users import UserInfo
from web.auth import actor_of, csrf_valid
from web.deps import get_services
from web.error_text import validation_message
from web.i18n import N_
from web.pages import page_user
from web.pages.panel import FORM_EXPIRED, _contact_view, _gettext
from web.params import PathId

router = APIRouter(include_in_schema=False)
PageUser = Annotated[UserInfo, Depends(page_user)]
NOT_SENT = N_("The letter was not sent: {reason}")


@router.post("/contacts/{contact_id}/letters", response_model=None)
async def contact_letter(request: Request, contact_id: PathId, user: PageUser) -> Response:
    data = await request.form()
    form = {
        k: str(data.get(k, ""))[:100_000]
        for k in ("mailbox_id", "to", "subject", "body", "template_id")
    }
    gettext = _gettext(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        form["error"] = gettext(FORM_EXPIRED)
        return await _contact_view(request, contact_id, user, letter=form, status_code=403)
    try:
        letter = LetterSend(
            mailbox_id=int(form["mailbox_id"]) if form["mailbox_id"].isdigit() else 0,
            to=form["to"] or None,
            subject=form["subject"],
            body=form["body"],
            template_id=int(form["template_id"]) if form["template_id"].isdigit() else None,
        )
        await get_services(request).crm.letters.send(contact_id, letter, actor_of(user))
    except (ValidationError, CrmError) as exc:
        reason = _reason(request, exc, gettext)
        form["error"] = gettext(NOT_SENT).format(reason=reason)
        status = 502 if isinstance(exc, CrmError) and exc.code == "mail_failed" else 422
        return await _contact_view(request, contact_id, user, letter=form, status_code=status)
    return RedirectResponse(f"/contacts/{contact_id}?saved=letter", status_code=303)


def _reason(request: Request, exc: ValidationError | CrmError, gettext: Any) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else ""
        return validation_message(request, dict(first), field)
    text = str(gettext(exc.message))
    detail = exc.details.get("detail") if isinstance(exc.details, dict) else None
    return f"{text} ({detail})" if detail else text
