"""Jinja2 templates (autoescaped: caller names and every CRM field are untrusted)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from web.reasons import localize

TEMPLATES_DIR = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["routing_reason"] = localize
