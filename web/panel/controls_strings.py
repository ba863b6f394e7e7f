"""The words of the call controls in the card (`static/js/panel/controls.js`), keyed
`controls.…`; `web.panel.strings.panel_strings` adds them to the panel's page."""

from __future__ import annotations

from collections.abc import Callable

from web.i18n import N_

CONTROLS = {
    "hangup": N_("Hang up"),
    "hold": N_("Hold"),
    "unhold": N_("Resume the call"),
    "on_hold": N_("On hold: the caller hears music"),
    "transfer": N_("Transfer"),
    "transfer_title": N_("Transfer the call"),
    "blind": N_("At once"),
    "attended": N_("Talk to them first"),
    "to_agent": N_("To a colleague"),
    "to_manager": N_("To the customer's manager"),
    "to_queue": N_("To a queue"),
    "no_manager": N_("This customer has no responsible manager."),
    "queue_item": N_("{name}: {waiting} waiting, {available} free"),
    "send": N_("Transfer"),
    "cancel": N_("Cancel"),
    "loading": N_("Loading…"),
    "nobody": N_("Nobody to transfer to."),
    "confirm_hangup": N_("Hang up this call?"),
}


def controls_strings(gettext: Callable[[str], str]) -> dict[str, str]:
    return {f"controls.{key}": gettext(text) for key, text in CONTROLS.items()}
