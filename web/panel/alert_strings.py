"""The words of the panel's background alerts (`static/js/panel/alerts.js`), keyed `alert.…`."""

from __future__ import annotations

from web.i18n import N_

ALERTS = {
    "incoming_title": N_("☎ Incoming: {name}"),
    "notification_body": N_("A call is ringing for you in Trubka."),
    "enable": N_("Turn on call notifications"),
}
