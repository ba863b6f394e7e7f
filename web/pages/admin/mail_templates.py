"""`/admin/mail-templates` (admins): the named letter templates ("Callback follow-up",
"Price list", "Missed you") the card's letter form and the rules' `send_email` use —
the list with a form to add one, and `/admin/mail-templates/{id}` to change it (with a
preview for a sample contact) or remove it.

Forms post with the CSRF token and work without JavaScript (`web.pages.admin.posting`);
the service is `crm.mail.named_templates`, the JSON API `web.api.mail_templates`. A
subject or text that does not compile in the letters' sandbox is refused with the field
named, in the admin's language; what was typed is shown again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from crm.mail.named_templates import (
    SAMPLE,
    MailTemplateCreate,
    MailTemplateService,
    MailTemplateUpdate,
)
from crm.mail.templates import render
from crm.users import UserInfo
from kernel.errors import DomainError
from web.auth import actor_of, crm_of
from web.i18n import N_
from web.pages.admin.layout import AdminPage, render_admin
from web.pages.admin.posting import Gettext, posted, refusal
from web.params import PathId

router = APIRouter(include_in_schema=False)

PATH = "/admin/mail-templates"
DONE = {"created": N_("Saved."), "saved": N_("Saved."), "deleted": N_("Removed.")}
LABELS = {
    "name": N_("Name"),
    "subject": N_("Subject"),
    "body": N_("Text"),
    "language": N_("Language"),
}
HINTS = {
    "name": N_("enter a name of at most 120 characters"),
    "body": N_("enter the letter's text"),
    "subject": N_("a subject of at most 998 characters"),
}
INVALID = N_("this value is not valid")
LANGUAGES = {"": N_("any"), "en": N_("English (en)"), "ru": N_("Russian (ru)")}
NEW_FORM = {"name": "", "subject": "", "body": "", "language": ""}


def _service(request: Request) -> MailTemplateService:
    return crm_of(request).mail_templates


def _validated(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else None
        raise DomainError("invalid", HINTS.get(field or "", INVALID), field) from exc


def _refusal(exc: DomainError, gettext: Gettext) -> str:
    return refusal(exc, gettext, LABELS)


def _preview(subject: str, body: str) -> dict[str, str] | None:
    """The template for the sample contact, when it renders."""
    try:
        return {"subject": render(subject, SAMPLE, "subject"), "body": render(body, SAMPLE, "body")}
    except DomainError:
        return None


async def _list_page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "templates": await _service(request).list(),
        "languages": LANGUAGES,
        "done": DONE.get(request.query_params.get("done") or ""),
        "message": message,
        "form": form or dict(NEW_FORM),
    }
    return render_admin(
        request, "admin/mail_templates.html", context, user=user, status_code=status_code
    )


async def _one_page(
    request: Request,
    user: UserInfo,
    template_id: int,
    *,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        stored = await _service(request).get(template_id)
    except DomainError:
        return render_admin(
            request, "admin/mail_template.html", {"tpl": None}, user=user, status_code=404
        )
    shown = form or {k: str(stored[k]) for k in ("name", "subject", "body", "language")}
    context = {
        "tpl": stored,
        "languages": LANGUAGES,
        "done": DONE.get(request.query_params.get("done") or ""),
        "message": message,
        "form": shown,
        "preview": _preview(stored["subject"], stored["body"]),
        "sample": SAMPLE,
    }
    return render_admin(
        request, "admin/mail_template.html", context, user=user, status_code=status_code
    )


Text = Annotated[str, Form(max_length=100_000)]


def _posted(
    name: Text = "",
    subject: Text = "",
    body: Text = "",
    language: Text = "",
    version: Text = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> tuple[dict[str, Any], str, str]:
    form = {"name": name, "subject": subject, "body": body, "language": language}
    return form, version, csrf_token


Posted = Annotated[tuple[dict[str, Any], str, str], Depends(_posted)]


@router.get(PATH, response_class=HTMLResponse)
async def mail_templates_page(request: Request, user: AdminPage) -> HTMLResponse:
    return await _list_page(request, user)


@router.post(PATH, response_class=HTMLResponse)
async def mail_template_create(request: Request, user: AdminPage, form_in: Posted) -> Response:
    form, _version, csrf_token = form_in

    async def create() -> str:
        data = _validated(MailTemplateCreate, form)
        made = await _service(request).create(data, actor_of(user))
        return f"{PATH}/{made['id']}?done=created"

    async def again(message: str, status_code: int) -> Response:
        return await _list_page(request, user, message=message, form=form, status_code=status_code)

    return await posted(request, user, csrf_token, create, again, _refusal)


@router.get(PATH + "/{template_id}", response_class=HTMLResponse)
async def mail_template_page(
    template_id: PathId, request: Request, user: AdminPage
) -> HTMLResponse:
    return await _one_page(request, user, template_id)


@router.post(PATH + "/{template_id}", response_class=HTMLResponse)
async def mail_template_save(
    template_id: PathId, request: Request, user: AdminPage, form_in: Posted
) -> Response:
    form, version, csrf_token = form_in

    async def save() -> str:
        data = _validated(
            MailTemplateUpdate, {**form, "version": int(version) if version.isdigit() else 0}
        )
        await _service(request).update(template_id, data, actor_of(user))
        return f"{PATH}/{template_id}?done=saved"

    async def again(message: str, status_code: int) -> Response:
        typed = form if status_code != 403 else None
        return await _one_page(
            request, user, template_id, message=message, form=typed, status_code=status_code
        )

    return await posted(request, user, csrf_token, save, again, _refusal)


@router.post(PATH + "/{template_id}/delete", response_class=HTMLResponse)
async def mail_template_delete(
    template_id: PathId,
    request: Request,
    user: AdminPage,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    async def delete() -> str:
        await _service(request).delete(template_id, actor_of(user))
        return f"{PATH}?done=deleted"

    async def again(message: str, status_code: int) -> Response:
        return await _list_page(request, user, message=message, status_code=status_code)

    return await posted(request, user, csrf_token, delete, again, _refusal)
