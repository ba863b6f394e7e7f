"""The call page `/calls/<id>`: the call's details, its steps, and its recording's player.

Open to whoever may see the call (`crm.call_access`; others get the 403 page).
Supervisors and admins also get the recording's retention, a legal-hold form
(`POST /calls/<id>/hold`, with the page's CSRF token) and its audit trail.

The player itself is `web/static/js/recording-player.js`, mounted on every element with
`data-recording-call-id` (see `web/templates/recordings/player.html`); its strings come
from :data:`PLAYER_STRINGS`, rendered into the page or fetched from
`GET /api/recordings/player-strings` by pages that do not include them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.call_access import is_manager
from crm.call_list import CallQuery
from crm.errors import CrmError, Forbidden, NotFound
from crm.users import UserInfo
from crm.wrapups import WrapupService
from kernel.call_record import DEFAULT_PBX
from recordings.views import pick_job, recording_json, retention_json
from web.auth import actor_of, csrf_valid, current_user
from web.deps import get_services
from web.i18n import N_, translations
from web.labels import MORE_STEP_KINDS
from web.pages import LoginRequired, page_language, page_user, render
from web.pages.site import form_expired
from web.params import PathId
from web.templating import templates

router = APIRouter(include_in_schema=False)

PLAYER_STRINGS: dict[str, str] = {
    "recording": N_("Call recording"),
    "play": N_("Play"),
    "pause": N_("Pause"),
    "position": N_("Position in the recording"),
    "of": N_("of"),
    "speed": N_("Playback speed"),
    "download": N_("Download"),
    "loading": N_("Loading the recording…"),
    "none": N_("This call was not recorded."),
    "pending": N_("The recording is being processed; it will appear here shortly."),
    "processing": N_("The recording is being processed; it will appear here shortly."),
    "missing": N_("The recording file was not found."),
    "failed": N_("The recording could not be processed."),
    "empty": N_("Nothing was recorded: the call was never connected."),
    "purged": N_("The recording was removed by the retention policy."),
    "forbidden": N_("You may not listen to this call."),
    "signed_out": N_("Sign in to listen to this call."),
    "not_found": N_("This call was not found."),
    "error": N_("The recording cannot be loaded right now."),
    "play_error": N_("The browser cannot play this recording; download it instead."),
    "keys": N_("Space: play or pause; arrows: 5 s back or forward; Page Up/Down: 30 s; Home/End"),
    "customer": N_("Customer"),
    "agent": N_("Agent"),
}

STEP_KINDS: dict[str, str] = {
    "started": N_("Call started"),
    "dial": N_("Dialled"),
    "routed": N_("Routed"),
    "routed-not-answered": N_("Routed agent did not answer"),
    "routed-fallback": N_("Sent on to the queue"),
    "queued": N_("Entered the queue"),
    "ringing": N_("Ringing"),
    "no-answer": N_("Not answered"),
    "answered": N_("Answered"),
    "completed": N_("Conversation ended"),
    "transferred": N_("Transferred"),
    "blind-transfer": N_("Blind transfer"),
    "attended-transfer": N_("Attended transfer"),
    "abandoned": N_("Caller hung up in the queue"),
    "recording-started": N_("Recording started"),
    "recording-stopped": N_("Recording stopped"),
    "resynced": N_("Picked up after a reconnection"),
    "ended-during-outage": N_("Ended while the PBX link was down"),
    "ended": N_("Call ended"),
    **MORE_STEP_KINDS,
}

DISPOSITIONS: dict[str, str] = {
    "answered": N_("answered"),
    "abandoned": N_("abandoned"),
    "no-answer": N_("no answer"),
    "busy": N_("busy"),
    "failed": N_("failed"),
}

DIRECTIONS: dict[str, str] = {
    "inbound": N_("inbound"),
    "outbound": N_("outbound"),
    "internal": N_("internal"),
}

AUDIT_ACTIONS: dict[str, str] = {
    "played": N_("played"),
    "downloaded": N_("downloaded"),
    "hold": N_("legal hold set"),
    "release": N_("legal hold released"),
    "retried": N_("processing retried"),
    "purged": N_("purged"),
}


def player_strings(lang: str) -> dict[str, str]:
    catalog = translations(lang)
    return {key: catalog.gettext(message) for key, message in PLAYER_STRINGS.items()}


# The player partial (`recordings/player.html`) renders the strings into any page.
templates.env.globals.setdefault("recording_player_strings", player_strings)


@router.get("/api/recordings/player-strings")
async def strings_api(request: Request) -> dict[str, str]:
    """The player's strings in the signed-in user's language (for pages without them)."""
    user = await current_user(request)
    return player_strings(page_language(request, user))


@router.get("/calls/{call_id}", response_class=HTMLResponse)
async def call_page(
    call_id: PathId, request: Request, user: Annotated[UserInfo, Depends(page_user)]
) -> Response:
    services = get_services(request)
    query = CallQuery(services.db, services.crm.directory)
    try:
        call = await query.get(user, call_id)
    except Forbidden as exc:
        raise LoginRequired(request.url.path, forbidden=True) from exc
    except NotFound:
        return render(
            request, "calls/missing.html", {"call_id": call_id}, user=user, status_code=404
        )
    contact = None
    if call.get("contact_id"):
        try:
            contact = await services.crm.contacts.get(int(call["contact_id"]), actor_of(user))
        except CrmError:
            contact = None
    jobs = await services.recordings.store.for_linkedids([call["linkedid"]])
    job = pick_job(
        jobs.get(call["linkedid"], []), call.get("recording_file"), call.get("pbx") or DEFAULT_PBX
    )
    recording = recording_json(call["id"], job, call.get("recording_file"))
    manage: dict[str, Any] | None = None
    if is_manager(user) and job is not None:
        entries = await services.recordings.store.audit_log(limit=50, job_id=job.id)
        manage = {
            "retention": retention_json(job, services.recordings.retention),
            "audit": [entry.describe() for entry in entries],
        }
    wrapups = (await WrapupService(services.db).for_calls([call["linkedid"]])).get(
        call["linkedid"], []
    )
    settings = getattr(services, "admin_settings", None)
    labels = settings.wrapup_codes.labels(page_language(request, user)) if settings else {}
    context = {
        "call": call,
        "contact": contact,
        "wrapups": wrapups,  # the agents' results, each with its code's label (or the code)
        "wrapup_labels": labels,
        "recording": recording,
        "manage": manage,
        "step_kinds": STEP_KINDS,
        "dispositions": DISPOSITIONS,
        "directions": DIRECTIONS,
        "audit_actions": AUDIT_ACTIONS,
        "notice": request.query_params.get("notice"),
    }
    return render(request, "calls/call.html", context, user=user)


@router.post("/calls/{call_id}/hold")
async def call_hold(
    call_id: PathId,
    request: Request,
    user: Annotated[UserInfo, Depends(page_user)],
    csrf_token: Annotated[str, Form()] = "",
    hold: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The call page's legal-hold form (supervisors and admins)."""
    if not is_manager(user):
        raise LoginRequired(request.url.path, forbidden=True)
    if not csrf_valid(request, csrf_token):
        return await form_expired(request)
    services = get_services(request)
    row = await CallQuery(services.db, services.crm.directory).row(call_id)
    jobs = await services.recordings.store.for_linkedids([row.linkedid])
    job = pick_job(jobs.get(row.linkedid, []), row.recording_file, row.pbx)
    page = f"/calls/{call_id}"
    if job is None:
        return RedirectResponse(f"{page}?notice=not-recorded", status_code=303)
    wanted = hold == "1"
    text = reason.strip() or None
    if wanted and text is None:
        return RedirectResponse(f"{page}?notice=reason-needed#retention", status_code=303)
    store = services.recordings.store
    await store.set_hold([job.id], wanted, text, user.login, services.recordings.clock())
    notice = "held" if wanted else "released"
    return RedirectResponse(f"{page}?notice={notice}#retention", status_code=303)
