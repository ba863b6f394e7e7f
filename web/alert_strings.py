"""The words of the supervisor alerts and the pending pause on the live view and the
wallboard (`supervisor.alerts`; `{…}` is filled by `web/static/js/alerts.js`)."""

from __future__ import annotations

from web.i18n import N_

ALERT_STRINGS = {
    "alert_title": N_("Trubka: alert"),
    "alert_service_level": N_("{queue}: service level {value}% is under the target {limit}%"),
    "alert_long_wait": N_("{queue}: a caller has waited {value} (limit {limit})"),
    "alert_long_pause": N_("{agent}: paused ({reason}) for {value} (limit {limit})"),
    "alert_long_wrap_up": N_("{agent}: in after-call work for {value} (limit {limit})"),
    "alert_unreachable": N_("{agent}: the phone is unreachable (unregistered or unavailable)"),
    "pause_pending": N_("Pause after this call: {reason}"),
}
