"""Jinja2 templates (autoescaped: caller names and every CRM field are untrusted)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from routing.reasons import localize
from web.labels import audit_label, deal_event_label, pause_label, step_detail

TEMPLATES_DIR = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=TEMPLATES_DIR)


def routing_reason(call: Mapping[str, Any], lang: str) -> str | None:
    """Why a stored call went where it went, in `lang`: rendered from the structured
    reason stored with it, else (older calls) the English text as it was stored."""
    return localize(
        call.get("routing_reason"),
        call.get("routing_reason_key"),
        call.get("routing_reason_values"),
        lang,
    )


templates.env.globals["routing_reason"] = routing_reason
templates.env.globals["pause_label"] = pause_label
templates.env.globals["audit_label"] = audit_label
templates.env.globals["deal_event_label"] = deal_event_label
templates.env.globals["step_detail"] = step_detail
