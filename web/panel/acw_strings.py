"""The panel's words for after-call work and a pending pause (keys `acw.…`)."""

from __future__ import annotations

from web.i18n import N_

AFTER_CALL_TEXTS = {
    "timer": N_("After-call work {elapsed} of {limit}"),
    "timer_open": N_("After-call work {elapsed}"),
    "pause_pending": N_("Pause after this call"),
    "pause_pending_for": N_("Pause after this call: {reason}"),
}
