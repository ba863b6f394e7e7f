"""The after-call work and supervisor alert settings: read, and refused with the variable
named when they make no sense."""

from __future__ import annotations

import pytest

from trubka.settings import SettingsError, load_settings


def test_limits_per_queue_and_per_reason() -> None:
    settings = load_settings(
        wrapup_limit=45,
        queue_wrapup_limits="support=120, sales=0",
        queue_alert_wait="vip=10",
        queue_service_level_targets="vip=95",
        pause_limits="lunch=3600,break=900",
    )
    limits = settings.wrapup_limits()
    assert (limits.for_queue("support"), limits.for_queue("sales")) == (120, 0)
    assert (limits.for_queue("other"), limits.for_queue(None)) == (45, 45)
    alerts = settings.alert_thresholds()
    assert alerts.wait_for("vip") == 10 and alerts.wait_for("support") == 60
    assert alerts.target_for("vip") == 95 and alerts.target_for("support") == 80
    assert alerts.pause_limit_for("lunch") == 3600 and alerts.pause_limit_for("x") == 1800
    assert alerts.wrapup_limit_for(["support", "other"]) == 120


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("queue_wrapup_limits", "support", "TRUBKA_QUEUE_WRAPUP_LIMITS"),
        ("queue_wrapup_limits", "support=-5", "TRUBKA_QUEUE_WRAPUP_LIMITS"),
        ("queue_service_level_targets", "vip=150", "TRUBKA_QUEUE_SERVICE_LEVEL_TARGETS"),
        ("pause_limits", "lunch=forever", "TRUBKA_PAUSE_LIMITS"),
        ("wrapup_limit", -1, "TRUBKA_WRAPUP_LIMIT"),
    ],
)
def test_nonsense_is_refused_naming_the_variable(field: str, value: object, variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(**{field: value})
