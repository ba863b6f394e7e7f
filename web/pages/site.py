"""The site's own pages around the features: the API's documentation, the favicon, and
the HTML 404/403 pages a browser gets for a page that does not exist or is not allowed.

- `/api/docs` is Swagger UI served from Trubka (Swagger UI 5's files as the
  `fastapi-offline` package ships them, mounted at `/static/swagger-ui/`, see
  :func:`install`) with a start-up script of ours (`/static/js/api-docs.js`): it works
  without internet and needs no inline script.
- `/favicon.ico` answers the SVG icon `/static/favicon.svg` (pages also link it).
- :func:`error_page` renders `site/error.html` in the visitor's language with the site's
  navigation; `web.errors` uses it for pages (not `/api/…`, not clients that ask for JSON).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from web.auth import optional_user
from web.i18n import N_
from web.pages import render

router = APIRouter()

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
SWAGGER_PREFIX = "/static/swagger-ui"
FAVICON = STATIC_DIR / "favicon.svg"
# Swagger UI (Apache-2.0) as fastapi-offline (MIT) ships it: swagger-ui-bundle.js, .css
SWAGGER_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"

# status: (title, explanation) of the HTML error pages
ERRORS = {
    404: (N_("Page not found"), N_("There is no page at this address.")),
    403: (N_("Not allowed"), N_("Your role does not give access to this page.")),
}
FORM_EXPIRED = N_("The form expired; reload the page and try again.")


def install(app: FastAPI) -> None:
    """Serve Swagger UI's files (before the `/static` mount, which would hide them) and
    this module's routes."""
    app.mount(SWAGGER_PREFIX, StaticFiles(directory=SWAGGER_DIR), name="swagger-ui")
    app.include_router(router)


@router.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
async def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over `/api/openapi.json`, every file from this site."""
    return render(
        request,
        "site/api_docs.html",
        {"swagger": SWAGGER_PREFIX, "openapi_url": request.app.openapi_url},
    )


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return FileResponse(
        FAVICON,
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def wants_html(request: Request) -> bool:
    """A browser asking for a page (it accepts HTML): not the API, not `/metrics`."""
    path = request.url.path
    if path.startswith("/api/") or path == "/metrics":
        return False
    return "text/html" in request.headers.get("accept", "")


async def error_page(request: Request, status: int, text: str | None = None) -> Response | None:
    """The HTML page for `status` (404 or 403; `text`: a msgid saying why), or None for
    the statuses it has none for."""
    if status not in ERRORS:
        return None
    title, default = ERRORS[status]
    text = text or default
    user = await optional_user(request)
    return render(
        request,
        "site/error.html",
        {"status": status, "title": title, "text": text},
        user=user,
        status_code=status,
    )


async def form_expired(request: Request) -> Response:
    """403 for a form whose CSRF token did not match, as a page in the user's language."""
    page = await error_page(request, 403, FORM_EXPIRED)
    assert page is not None
    return page
