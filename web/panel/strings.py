"""The words the panel's JavaScript shows, translated on the server for the page's language.

The page renders them into `<script type="application/json" id="i18n">`; the script
never holds Russian or English text of its own. `{name}` placeholders are filled by it.
"""

from __future__ import annotations

from collections.abc import Callable

from crm.wrapups import WrapupDisposition
from web.i18n import N_
from web.labels import PAUSE_REASONS as LABELS_OF_PAUSES
from web.panel.acw_strings import AFTER_CALL_TEXTS
from web.panel.controls_strings import controls_strings
from web.panel.day_strings import ALERTS, DEALS
from web.panel.notice_strings import NOTICES
from web.panel.phone import PAUSE_REASONS

STATES = {
    "available": N_("Available"),
    "ringing": N_("Ringing"),
    "on_call": N_("On a call"),
    "wrap_up": N_("Wrap-up"),
    "paused": N_("Paused"),
    "unavailable": N_("Phone unavailable"),
    "logged_out": N_("Not in a queue"),
}
PAUSE_REASON_LABELS = {
    "lunch": N_("Lunch"),
    "break": N_("Break"),
    "training": N_("Training"),
    "meeting": N_("Meeting"),
    "paperwork": N_("Paperwork"),
}
WRAPUP_LABELS = {
    WrapupDisposition.RESOLVED: N_("Resolved"),
    WrapupDisposition.FOLLOW_UP: N_("Needs a follow-up"),
    WrapupDisposition.SALE: N_("Sale"),
    WrapupDisposition.INFORMATION: N_("Information given"),
    WrapupDisposition.COMPLAINT: N_("Complaint"),
    WrapupDisposition.WRONG_NUMBER: N_("Wrong number"),
    WrapupDisposition.OTHER: N_("Other"),
}
CALL_DISPOSITIONS = {
    "answered": N_("answered"),
    "abandoned": N_("abandoned"),
    "no-answer": N_("no-answer"),
    "busy": N_("busy"),
    "failed": N_("failed"),
}
DIRECTIONS = {
    "inbound": N_("Inbound"),
    "outbound": N_("Outbound"),
    "internal": N_("Internal"),
}
ERRORS = {
    "no_phone": N_(
        "You have no phone configured in Trubka. Ask an admin to add your phone to your user."
    ),
    "not_in_queue": N_("Your phone is not in any queue, so there is nothing to pause."),
    "bad_number": N_("This is not a phone number that can be dialled."),
    "not_on_call": N_("You were not on this call, so you cannot wrap it up."),
    "pbx_disabled": N_("This server does not talk to the phone system."),
    "pbx_down": N_("The phone system is not connected right now. Try again in a minute."),
    "pbx_timeout": N_("The phone system did not answer in time. Try again."),
    "pbx_refused": N_("The phone system refused the request: {message}"),
    "phone_unavailable": N_("Your phone could not be called: is it switched on and registered?"),
    "phone_not_answered": N_("Your phone rang but nobody picked it up."),
    "phone_busy": N_("Your phone is busy."),
    "phone_hung_up": N_("Your phone hung up before the customer was called."),
    "congestion": N_("The phone system is overloaded. Try again in a moment."),
    "already_exists": N_("This call is already wrapped up."),
    "conflict": N_("Someone else changed this record meanwhile. Reload and try again."),
    "forbidden": N_("Your role does not allow this."),
    "not_authenticated": N_("Your session has ended. Sign in again."),
    "validation_error": N_("Check the form: {message}"),
    "invalid": N_("Check the form: {message}"),
    "network": N_("The server cannot be reached. Check the network and try again."),
    "error": N_("Something went wrong: {message}"),
}
TEXTS = {
    "connecting": N_("Connecting…"),
    "connected": N_("Live"),
    "reconnecting": N_("Connection lost, reconnecting…"),
    "unknown_number": N_("Unknown number"),
    "no_number": N_("Number withheld"),
    "company": N_("Company"),
    "manager": N_("Responsible manager"),
    "why": N_("Why you"),
    "queue": N_("Queue"),
    "last_calls": N_("Last calls"),
    "open_tasks": N_("Open tasks"),
    "deals": N_("Deals"),
    "notes": N_("Notes"),
    "none": N_("None"),
    "due": N_("due {when}"),
    "no_due": N_("no due date"),
    "open_card": N_("Open the contact card"),
    "call": N_("Call"),
    "call_number": N_("Call {number}"),
    "create_contact": N_("Create contact"),
    "contact_name": N_("Name"),
    "phone": N_("Phone"),
    "creating": N_("Creating…"),
    "contact_created": N_("Contact created."),
    "ringing_for_you": N_("Ringing"),
    "on_call": N_("On the call"),
    "call_notes": N_("Notes during the call"),
    "call_notes_hint": N_("They go into the wrap-up note."),
    "wrapup_title": N_("Wrap-up"),
    "disposition": N_("Outcome"),
    "choose": N_("Choose…"),
    "note": N_("Note"),
    "follow_up": N_("Create a follow-up task"),
    "task_title": N_("Task"),
    "task_due": N_("Due"),
    "task_default": N_("Call back {name}"),
    "save": N_("Save"),
    "saving": N_("Saving…"),
    "skip": N_("Skip"),
    "saved": N_("Saved to the contact's history."),
    "saved_no_contact": N_("Saved with the call."),
    "ended_at": N_("ended {when}, talked {duration}"),
    "calling_you": N_("Your phone is ringing: pick it up to call {number}."),
    "calling": N_("Calling {number}…"),
    "pause": N_("Pause"),
    "resume": N_("Resume work"),
    "pause_sent": N_("Asked the phone system…"),
    "paused_for": N_("Paused: {reason}"),
    "outbound_call": N_("Outbound call"),
    "talk": N_("talk {duration}"),
    "recording": N_("Recording"),
    "phone_flagged": N_("not a valid number, kept as entered"),
}


def panel_strings(gettext: Callable[[str], str]) -> dict[str, str]:
    """Every string the panel script needs, keyed `state.…`, `error.…`, `text.…` …"""
    strings: dict[str, str] = {}
    for prefix, table in (
        ("state", STATES),
        ("pause", {**LABELS_OF_PAUSES, **PAUSE_REASON_LABELS}),  # a supervisor's reasons too
        ("wrapup", {k.value: v for k, v in WRAPUP_LABELS.items()}),
        ("disposition", CALL_DISPOSITIONS),
        ("direction", DIRECTIONS),
        ("error", ERRORS),
        ("text", TEXTS),
        ("alert", ALERTS),
        ("deal", DEALS),
        ("acw", AFTER_CALL_TEXTS),
        ("notice", NOTICES),
    ):
        for key, text in table.items():
            strings[f"{prefix}.{key}"] = gettext(text)
    strings.update(controls_strings(gettext))  # the call controls in the card
    return strings


def pause_choices(gettext: Callable[[str], str]) -> list[dict[str, str]]:
    return [{"key": key, "label": gettext(PAUSE_REASON_LABELS[key])} for key in PAUSE_REASONS]


def wrapup_choices(gettext: Callable[[str], str]) -> list[dict[str, str]]:
    return [{"key": d.value, "label": gettext(WRAPUP_LABELS[d])} for d in WrapupDisposition]
