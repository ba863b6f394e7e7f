"""The words of the panel's day tools: background alerts (`static/js/panel/alerts.js`,
keyed `alert.…`) and deals from the card (`static/js/panel/deals.js`, keyed `deal.…`)."""

from __future__ import annotations

from web.i18n import N_

ALERTS = {
    "incoming_title": N_("☎ Incoming: {name}"),
    "notification_body": N_("A call is ringing for you in Trubka."),
    "enable": N_("Turn on call notifications"),
}
DEALS = {
    "title": N_("New deal"),
    "amount": N_("Amount"),
    "expected_close": N_("Expected close"),
    "create": N_("Create deal"),
    "created": N_("Deal “{title}” created."),
    "stage_of": N_("Stage of “{title}”"),
    "stage_changed": N_("Deal “{title}” moved to “{stage}”."),
    "open_tools": N_("Change a deal's stage or add a deal"),
}
