"""The words of the panel's notices list (web/static/js/panel/notices.js), keyed
`notice.…` in the page's `i18n` block; their Russian is in notices.po."""

from __future__ import annotations

from web.i18n import N_

NOTICES = {
    "title": N_("Notices"),
    "read": N_("Mark read"),
    "read_all": N_("Mark all read"),
    "open_contact": N_("Open the contact"),
}
