"""The rule of `web.pages`: every route that answers HTML lives there, one module per family."""

from __future__ import annotations

import pkgutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

import web.pages
from web.app import create_app

WEB = Path(web.pages.__file__).resolve().parents[1]
FAMILIES = {
    "login",
    "panel",
    "calls",
    "supervisor",
    "status",
    "site",
    "admin_rules",
    "admin_settings",
    "admin",
    "mail",
}


def _routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)


def _app_routes() -> list[APIRoute]:
    app = create_app(SimpleNamespace(settings=SimpleNamespace(max_body_bytes=1)))  # type: ignore[arg-type]
    return list(_routes(app.routes))


def test_every_html_route_is_in_a_page_module() -> None:
    routes = _app_routes()
    html = [r for r in routes if r.response_class is HTMLResponse]
    assert {r.path for r in html} >= {"/", "/login", "/status", "/calls/{call_id}", "/reports"}
    outside = [(r.path, r.endpoint.__module__) for r in html]
    assert [(p, m) for p, m in outside if not m.startswith("web.pages.")] == []
    # Every page family's routes are served by the app.
    served = {r.endpoint.__module__ for r in routes}
    assert {f"web.pages.{name}" for name in FAMILIES} <= served


def test_the_package_holds_the_families_and_nothing_else_renders_pages() -> None:
    modules = {m.name for m in pkgutil.iter_modules(web.pages.__path__)}
    assert modules == FAMILIES
    rendering = ("HTMLResponse", "TemplateResponse", "from web.pages import")
    others = [
        str(path.relative_to(WEB))
        for path in sorted(WEB.rglob("*.py"))
        if "pages" not in path.relative_to(WEB).parts
        and any(word in path.read_text(encoding="utf-8") for word in rendering)
    ]
    # web.errors installs the answer to LoginRequired; web.app includes the page routers.
    assert others == ["app.py", "errors.py"]
