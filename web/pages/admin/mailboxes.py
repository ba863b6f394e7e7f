"""`/admin/mailboxes` (admins): the e-mail mailboxes of docs/integrations.md ("E-mail")
in the browser — the list with each one's last poll and last error, a form to add one,
its page `/admin/mailboxes/{id}` to change it (the password is write-only: left blank,
the stored one is kept), remove it, and "Check now" (an IMAP login and its folders
opened at once, the outcome kept as its last error, the poller woken: `crm.mail.check`).

Forms post with the CSRF token and work without JavaScript; the service is
`crm.mail.mailboxes`, the JSON API `web.api.mail` (`/api/mailboxes`). A refused field is
named in the admin's language; the password typed is never sent back in the page.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from crm.mail.check import check_mailbox
from crm.mail.mailboxes import MailboxCreate, MailboxService, MailboxUpdate
from crm.users import UserInfo
from kernel.errors import DomainError
from web.auth import actor_of, crm_of
from web.i18n import N_
from web.pages.admin.layout import AdminPage, render_admin
from web.pages.admin.posting import Gettext, page_gettext, posted, refusal
from web.params import PathId

router = APIRouter(include_in_schema=False)
Model = TypeVar("Model", bound=BaseModel)

PATH = "/admin/mailboxes"
DONE = {
    "created": N_("Saved."),
    "saved": N_("Saved."),
    "deleted": N_("Removed. The letters read from it stay in the contacts' histories."),
}
CHECK_OK = N_("Connected: %(folders)s opened. The poller reads new letters now.")
CHECK_FAILED = N_("The mailbox cannot be read: %(error)s")
# The form's fields: their labels, and what is expected when one is refused.
LABELS = {
    "name": N_("Name"),
    "address": N_("E-mail address"),
    "owner_id": N_("Owner"),
    "imap_host": N_("IMAP server"),
    "imap_port": N_("IMAP port"),
    "imap_ssl": N_("IMAP over SSL"),
    "login": N_("Login"),
    "password": N_("Password"),
    "folder": N_("Folder"),
    "sent_folder": N_("Sent folder"),
    "smtp_host": N_("SMTP server"),
    "smtp_port": N_("SMTP port"),
    "smtp_security": N_("SMTP security"),
    "smtp_login": N_("SMTP login"),
    "create_contacts": N_("Unknown senders become contacts"),
    "enabled": N_("On"),
}
HINTS = {
    "name": N_("enter a name of at most 120 characters"),
    "address": N_("an e-mail address is expected, like sales@example.com"),
    "imap_host": N_("a server name without spaces is expected"),
    "smtp_host": N_("a server name without spaces is expected"),
    "imap_port": N_("a port is a whole number from 1 to 65535"),
    "smtp_port": N_("a port is a whole number from 1 to 65535"),
    "login": N_("enter the login"),
    "password": N_("enter the password (an app password)"),
    "folder": N_("enter the folder, e.g. INBOX"),
}
INVALID = N_("this value is not valid")
SECURITY = {"ssl": N_("SSL"), "starttls": N_("STARTTLS"), "none": N_("none (plain text)")}
TEXT_FIELDS = (
    "name", "address", "owner_id", "imap_host", "imap_port", "login", "folder",
    "sent_folder", "smtp_host", "smtp_port", "smtp_security", "smtp_login",
)  # fmt: skip
FLAGS = ("imap_ssl", "create_contacts", "enabled")
NEW_FORM: dict[str, Any] = {
    "name": "", "address": "", "owner_id": "", "imap_host": "", "imap_port": "993",
    "login": "", "folder": "INBOX", "sent_folder": "", "smtp_host": "", "smtp_port": "465",
    "smtp_security": "ssl", "smtp_login": "", "imap_ssl": True, "create_contacts": False,
    "enabled": True,
}  # fmt: skip


def _gettext(request: Request, user: UserInfo) -> Any:
    return page_gettext(request, user)


def _service(request: Request) -> MailboxService:
    return crm_of(request).mailboxes


def _form(box: dict[str, Any]) -> dict[str, Any]:
    """A stored mailbox as the form shows it (never its password)."""
    form: dict[str, Any] = {k: "" if box.get(k) is None else str(box[k]) for k in TEXT_FIELDS}
    form.update({k: bool(box.get(k)) for k in FLAGS})
    return form


def _data(form: dict[str, Any], password: str) -> dict[str, Any]:
    """The form as the service takes it; a blank password is left out (kept)."""
    data: dict[str, Any] = {k: form[k] for k in TEXT_FIELDS}
    data["owner_id"] = form["owner_id"] or None
    data.update({k: bool(form[k]) for k in FLAGS})
    if password:
        data["password"] = password
    return data


def _validated(model: type[Model], data: dict[str, Any]) -> Model:
    """The form's values as the service takes them; the first refused field is named with
    what it expects."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error.get("loc") else None
        raise DomainError("invalid", HINTS.get(field or "", INVALID), field) from exc


def _refusal(exc: DomainError, gettext: Gettext) -> str:
    return refusal(exc, gettext, LABELS)


async def _owners(request: Request) -> list[tuple[int, str]]:
    users = await crm_of(request).users.list(include_inactive=False)
    return [(u.id, u.name) for u in users]


async def _list_page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    checked: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    owners = await _owners(request)
    context = {
        "boxes": await _service(request).list(),
        "box": None,  # the form adds a mailbox
        "owners": owners,
        "owner_names": dict(owners),
        "security": SECURITY,
        "done": DONE.get(request.query_params.get("done") or ""),
        "message": message,
        "checked": checked,
        "form": form or dict(NEW_FORM),
    }
    return render_admin(
        request, "admin/mailboxes.html", context, user=user, status_code=status_code
    )


async def _box_page(
    request: Request,
    user: UserInfo,
    mailbox_id: int,
    *,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        box = await _service(request).get(mailbox_id)
    except DomainError:
        return render_admin(
            request, "admin/mailbox.html", {"box": None}, user=user, status_code=404
        )
    context = {
        "box": box,
        "owners": await _owners(request),
        "security": SECURITY,
        "done": DONE.get(request.query_params.get("done") or ""),
        "message": message,
        "form": form or _form(box),
    }
    return render_admin(request, "admin/mailbox.html", context, user=user, status_code=status_code)


FormText = Annotated[str, Form(max_length=1000)]


def _posted_form(
    name: FormText = "",
    address: FormText = "",
    owner_id: FormText = "",
    imap_host: FormText = "",
    imap_port: FormText = "",
    imap_ssl: FormText = "",
    login: FormText = "",
    password: FormText = "",
    folder: FormText = "",
    sent_folder: FormText = "",
    smtp_host: FormText = "",
    smtp_port: FormText = "",
    smtp_security: FormText = "",
    smtp_login: FormText = "",
    create_contacts: FormText = "",
    enabled: FormText = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> tuple[dict[str, Any], str, str]:
    """The mailbox form as posted (to add one or change one): its fields as the page
    shows them again, the password typed (blank: keep the stored one), the CSRF token."""
    form = {k: v for k, v in locals().items() if k in TEXT_FIELDS or k in FLAGS}
    return form, password, csrf_token


PostedForm = Annotated[tuple[dict[str, Any], str, str], Depends(_posted_form)]


@router.get(PATH, response_class=HTMLResponse)
async def mailboxes_page(request: Request, user: AdminPage) -> HTMLResponse:
    return await _list_page(request, user)


@router.post(PATH, response_class=HTMLResponse)
async def mailbox_create(
    request: Request,
    user: AdminPage,
    posted_form: PostedForm,
) -> Response:
    form, password, csrf_token = posted_form

    async def create() -> str:
        data = _validated(MailboxCreate, _data(form, password))
        await _service(request).create(data, actor_of(user))
        return f"{PATH}?done=created"

    async def again(message: str, status_code: int) -> Response:
        return await _list_page(request, user, message=message, form=form, status_code=status_code)

    return await posted(request, user, csrf_token, create, again, _refusal)


@router.get(PATH + "/{mailbox_id}", response_class=HTMLResponse)
async def mailbox_page(mailbox_id: PathId, request: Request, user: AdminPage) -> HTMLResponse:
    return await _box_page(request, user, mailbox_id)


@router.post(PATH + "/{mailbox_id}", response_class=HTMLResponse)
async def mailbox_save(
    mailbox_id: PathId,
    request: Request,
    user: AdminPage,
    posted_form: PostedForm,
) -> Response:
    form, password, csrf_token = posted_form

    async def save() -> str:
        data = _validated(MailboxUpdate, _data(form, password))
        await _service(request).update(mailbox_id, data, actor_of(user))
        return f"{PATH}/{mailbox_id}?done=saved"

    async def again(message: str, status_code: int) -> Response:
        # an expired form shows the stored mailbox again, a refused one what was typed
        typed = form if status_code == 422 else None
        return await _box_page(
            request, user, mailbox_id, message=message, form=typed, status_code=status_code
        )

    return await posted(request, user, csrf_token, save, again, _refusal)


@router.post(PATH + "/{mailbox_id}/{action}", response_class=HTMLResponse)
async def mailbox_action(
    mailbox_id: PathId,
    action: str,
    request: Request,
    user: AdminPage,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """`check` (connect now) or `delete`."""
    gettext = _gettext(request, user)

    async def act() -> str | Response:
        if action == "check":
            result = await check_mailbox(_service(request), mailbox_id)
            if result.ok:
                text = gettext(CHECK_OK) % {"folders": ", ".join(result.folders)}
                return await _list_page(request, user, checked=text)
            text = gettext(CHECK_FAILED) % {"error": gettext(result.error or "")}
            return await _list_page(request, user, message=text, status_code=200)
        if action == "delete":
            await _service(request).delete(mailbox_id, actor_of(user))
            return f"{PATH}?done=deleted"
        return await _list_page(request, user, status_code=404)

    async def again(message: str, status_code: int) -> Response:
        return await _list_page(request, user, message=message, status_code=status_code)

    return await posted(request, user, csrf_token, act, again, _refusal)
