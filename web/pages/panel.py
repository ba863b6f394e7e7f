"""The agent's pages: the panel (`/`), contact search (`/contacts`), a contact's card with
its whole history (`/contacts/{id}`), and the forms to create and edit contacts and add
notes. Forms carry the CSRF token; edits carry the version read (a conflict is shown
with both sides, nothing typed is lost).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from crm.errors import Conflict, CrmError, Forbidden, NotFound
from crm.schemas import ContactCreate, ContactUpdate, NoteCreate
from crm.users import UserInfo
from crm.wrapups import WrapupService
from recordings.views import calls_in, fill_recordings
from web.api.my_work import my_work
from web.auth import actor_of, csrf_valid
from web.deps import get_services
from web.i18n import N_, translations
from web.pages import page_language, page_user, render
from web.panel.strings import (
    CALL_DISPOSITIONS,
    DIRECTIONS,
    WRAPUP_LABELS,
    panel_strings,
    pause_choices,
    wrapup_choices,
)
from web.params import PathId, QueryId
from web.phone_refusal import is_refusal, refusal_text

router = APIRouter(include_in_schema=False)
PageUser = Annotated[UserInfo, Depends(page_user)]
TIMELINE_PAGE = 25
LIST_PAGE = 50

FORM_EXPIRED = N_("The form expired: reload the page and try again.")
CONFLICT = N_(
    "Someone else saved this contact while you were editing it. Their version is shown "
    "below; your changes are still in the form: check them and save again."
)
FORBIDDEN_EDIT = N_(
    "This contact belongs to another manager: you can read it and add notes, but only its "
    "manager or a supervisor can change it."
)
CHECK_FIELD = N_("Check the field “{field}”: {message}")
SAVED = N_("Saved.")
NOTE_ADDED = N_("Note added.")
LETTER_SENT = N_("Letter sent.")
FIELD_NAMES = {
    "name": N_("Name"),
    "phones": N_("Phones"),
    "emails": N_("E-mails"),
    "tags": N_("Tags"),
    "owner_id": N_("Responsible manager"),
    "custom": N_("Other fields"),
    "body": N_("Note"),
}


def _gettext(request: Request, user: UserInfo) -> Any:
    return translations(page_language(request, user)).gettext


def _pause_menu(services: Any, lang: str, gettext: Any) -> list[dict[str, str]]:
    """The pause reasons the admin chose (`/admin/pause-reasons`), else the built-in ones."""
    settings = getattr(services, "admin_settings", None)
    if settings is None:
        return pause_choices(gettext)
    return [{"key": r.code, "label": r.label(lang)} for r in settings.pause_reasons()]


def _wrapup_menu(services: Any, lang: str, gettext: Any) -> list[dict[str, str]]:
    """The active wrap-up codes the admin chose (`/admin/wrapup-codes`), else the built-in."""
    settings = getattr(services, "admin_settings", None)
    if settings is None:
        return wrapup_choices(gettext)
    return [{"key": c.code, "label": c.label(lang)} for c in settings.wrapup_codes.active()]


def _wrapup_labels(services: Any, lang: str, gettext: Any) -> dict[str, str]:
    """Every wrap-up code's label, inactive ones too (a stored code shows its label)."""
    settings = getattr(services, "admin_settings", None)
    if settings is None:
        return {k.value: gettext(v) for k, v in WRAPUP_LABELS.items()}
    labels: dict[str, str] = settings.wrapup_codes.labels(lang)
    return labels


@router.get("/", response_class=HTMLResponse)
async def panel_page(request: Request, user: PageUser) -> Response:
    if str(user.role) == "admin" and not user.interfaces:
        # an admin without a phone has no use for the agent panel: the admin dashboard
        return RedirectResponse("/admin", status_code=303)
    services = get_services(request)
    gettext = _gettext(request, user)
    config = {
        "user": {
            "id": user.id,
            "name": user.name,
            "role": str(user.role),
            "interfaces": list(user.interfaces),
        },
        "timezone": services.settings.timezone,
        "pause_reasons": _pause_menu(services, page_language(request, user), gettext),
        "dispositions": _wrapup_menu(services, page_language(request, user), gettext),
    }
    return render(
        request,
        "panel/index.html",
        {
            "config": config,
            "i18n": panel_strings(gettext),
            "pause_reasons": config["pause_reasons"],
        },
        user=user,
    )


# --- contact search ------------------------------------------------------------------
@router.get("/contacts", response_class=HTMLResponse)
async def contacts_page(
    request: Request,
    user: PageUser,
    q: Annotated[str, Query(max_length=200)] = "",
    before_id: QueryId = None,
) -> HTMLResponse:
    crm = get_services(request).crm
    actor = actor_of(user)
    query = q.strip()
    companies: list[dict[str, Any]] = []
    next_id = None
    if query:
        found = await crm.search.search(query, actor, limit=LIST_PAGE)
        contacts, companies = found["contacts"], found["companies"]
    else:
        page = await crm.contacts.list(actor, before_id=before_id, limit=LIST_PAGE)
        contacts, next_id = page["items"], page["next"]
    return render(
        request,
        "panel/contacts.html",
        {"q": query, "contacts": contacts, "companies": companies, "next_id": next_id},
        user=user,
    )


# --- a new contact -------------------------------------------------------------------
@router.get("/contacts/new", response_class=HTMLResponse)
async def new_contact_page(
    request: Request,
    user: PageUser,
    number: Annotated[str, Query(max_length=64)] = "",
    name: Annotated[str, Query(max_length=255)] = "",
) -> HTMLResponse:
    form = {"name": name, "phones": number, "emails": "", "tags": "", "custom": ""}
    return render(request, "panel/contact_new.html", {"form": form, "error": None}, user=user)


@router.post("/contacts/new", response_model=None)
async def new_contact_submit(request: Request, user: PageUser) -> Response:
    data = await request.form()
    names = ("name", "phones", "emails", "tags", "custom")
    form = {k: str(data.get(k, ""))[:20_000] for k in names}
    gettext = _gettext(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return render(
            request,
            "panel/contact_new.html",
            {"form": form, "error": gettext(FORM_EXPIRED)},
            user=user,
            status_code=403,
        )
    try:
        fields = _contact_fields(form)
        created = await get_services(request).crm.contacts.create(
            ContactCreate(**fields), actor_of(user)
        )
    except (ValidationError, CrmError) as exc:
        return render(
            request,
            "panel/contact_new.html",
            {"form": form, "error": _problem(exc, gettext)},
            user=user,
            status_code=422,
        )
    return RedirectResponse(f"/contacts/{created['id']}", status_code=303)


# --- a contact's card ----------------------------------------------------------------
@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
async def contact_page(
    request: Request,
    contact_id: PathId,
    user: PageUser,
    before: Annotated[str | None, Query(max_length=200)] = None,
    saved: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    return await _contact_view(request, contact_id, user, before=before, notice=saved)


async def _contact_view(
    request: Request,
    contact_id: PathId,
    user: UserInfo,
    *,
    before: str | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
    note_error: str | None = None,
    note_text: str = "",
    status_code: int = 200,
    letter: dict[str, Any] | None = None,  # the letter form's error and text (web.pages.mail)
) -> HTMLResponse:
    services = get_services(request)
    crm = services.crm
    actor = actor_of(user)
    gettext = _gettext(request, user)
    try:
        contact = await crm.contacts.get(contact_id, actor)
    except NotFound:
        return render(request, "panel/not_found.html", {}, user=user, status_code=404)
    card = await crm.cards.for_contact(contact_id, timeline=0)
    timeline = await crm.timeline.contact(contact_id, before=before, limit=TIMELINE_PAGE)
    await fill_recordings(services.db, calls_in(timeline))
    linkedids = [i["call"]["linkedid"] for i in timeline["items"] if i["kind"] == "call"]
    wrapups = await WrapupService(services.db).for_calls(linkedids)
    wrapped_notes = {w["note_id"] for ws in wrapups.values() for w in ws if w["note_id"]}
    users = [u for u in await crm.users.list(include_inactive=False)]
    notices = {"1": gettext(SAVED), "note": gettext(NOTE_ADDED), "letter": gettext(LETTER_SENT)}
    return render(
        request,
        "panel/contact.html",
        {
            "contact": contact,
            "card": card,
            "timeline": timeline,
            "wrapups": wrapups,
            "wrapped_notes": wrapped_notes,
            "users": users,
            "form": form or _form_of(contact),
            "error": error,
            "note_error": note_error,
            "note_text": note_text,
            "notice": notices.get(notice or ""),
            "editable": contact.get("editable", False),
            "mailboxes": await crm.mailboxes.usable_by(user.id),
            "mail_templates": await crm.mail_templates.list(),  # the letter form's picker
            "letter": letter or {},
            "dispositions": {k: gettext(v) for k, v in CALL_DISPOSITIONS.items()},
            "directions": {k: gettext(v) for k, v in DIRECTIONS.items()},
            "wrapup_labels": _wrapup_labels(services, page_language(request, user), gettext),
            "i18n": panel_strings(gettext),
            "config": {
                "user": {"id": user.id, "interfaces": list(user.interfaces)},
                "timezone": services.settings.timezone,
            },
        },
        user=user,
        status_code=status_code,
    )


@router.post("/contacts/{contact_id}", response_model=None)
async def contact_edit(request: Request, contact_id: PathId, user: PageUser) -> Response:
    data = await request.form()
    form = {
        k: str(data.get(k, ""))[:20_000]
        for k in ("name", "phones", "emails", "tags", "custom", "owner_id", "version")
    }
    gettext = _gettext(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return await _contact_view(
            request, contact_id, user, form=form, error=gettext(FORM_EXPIRED), status_code=403
        )
    crm = get_services(request).crm
    try:
        fields = _contact_fields(form)
        owner = form["owner_id"].strip()
        fields["owner_id"] = int(owner) if owner.isdigit() else None
        fields["version"] = int(form["version"]) if form["version"].isdigit() else 0
        await crm.contacts.update(contact_id, ContactUpdate(**fields), actor_of(user))
    except Conflict as exc:
        # Keep what the user typed; the next save applies it over the newer version.
        if exc.current_version is not None:
            form["version"] = str(exc.current_version)
        return await _contact_view(
            request, contact_id, user, form=form, error=gettext(CONFLICT), status_code=409
        )
    except Forbidden:
        return await _contact_view(
            request, contact_id, user, form=form, error=gettext(FORBIDDEN_EDIT), status_code=403
        )
    except NotFound:
        return await _contact_view(request, contact_id, user, status_code=404)
    except (ValidationError, CrmError) as exc:
        return await _contact_view(
            request, contact_id, user, form=form, error=_problem(exc, gettext), status_code=422
        )
    return RedirectResponse(f"/contacts/{contact_id}?saved=1", status_code=303)


@router.post("/contacts/{contact_id}/notes", response_model=None)
async def contact_note(request: Request, contact_id: PathId, user: PageUser) -> Response:
    data = await request.form()
    body = str(data.get("body", ""))[:20_000]
    gettext = _gettext(request, user)
    if not csrf_valid(request, str(data.get("csrf_token", ""))):
        return await _contact_view(
            request,
            contact_id,
            user,
            note_error=gettext(FORM_EXPIRED),
            note_text=body,
            status_code=403,
        )
    try:
        await get_services(request).crm.notes.create(
            NoteCreate(body=body, contact_id=contact_id), actor_of(user)
        )
    except (ValidationError, CrmError) as exc:
        return await _contact_view(
            request,
            contact_id,
            user,
            note_error=_problem(exc, gettext),
            note_text=body,
            status_code=422,
        )
    return RedirectResponse(f"/contacts/{contact_id}?saved=note", status_code=303)


# --- forms ---------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def _contact_fields(form: dict[str, str]) -> dict[str, Any]:
    """The form's text fields as a contact's fields (validated by the schema next)."""
    custom: dict[str, str] = {}
    for line in _lines(form["custom"]):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            custom[key.strip()] = value.strip()
    return {
        "name": form["name"],
        "phones": _lines(form["phones"]),
        "emails": _lines(form["emails"]),
        "tags": [t.strip() for t in form["tags"].split(",") if t.strip()],
        "custom": custom,
    }


def _form_of(contact: dict[str, Any]) -> dict[str, str]:
    return {
        "name": contact["name"],
        "phones": "\n".join(p["raw"] or p["number"] for p in contact["phones"]),
        "emails": "\n".join(contact["emails"]),
        "tags": ", ".join(contact["tags"]),
        "custom": "\n".join(f"{k}: {v}" for k, v in contact["custom"].items()),
        "owner_id": str(contact["owner_id"] or ""),
        "version": str(contact["version"]),
    }


def _problem(exc: ValidationError | CrmError, gettext: Any) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "name"
        message = str(first.get("msg", ""))
    elif is_refusal(exc):
        return str(refusal_text(exc, gettext))
    else:
        field = exc.field or ""
        message = exc.message
    label = gettext(FIELD_NAMES[field]) if field in FIELD_NAMES else field
    if not label:
        return message
    return str(gettext(CHECK_FIELD)).format(field=label, message=message)


# --- my work -------------------------------------------------------------------------
@router.get("/my", response_class=HTMLResponse)
async def my_work_page(request: Request, user: PageUser) -> HTMLResponse:
    """The agent's day: open tasks and callbacks, today's calls, their customers' missed
    calls (`GET /api/my-work`, `crm.my_work`)."""
    return render(
        request,
        "panel/my_work.html",
        {"work": await my_work(request, user), "dispositions": CALL_DISPOSITIONS},
        user=user,
    )
