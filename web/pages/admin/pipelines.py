"""`/admin/pipelines` (admins): the probability of each pipeline stage, which weighs the
open deals of the sales forecast (`/reports/forecast`, docs/reports.md).

One form lists every stage with its probability in percent; an empty field means the
default (won 100, lost 0, open stages spread evenly by their order, `crm.forecast`).
The same values are set through the API as `probability` of a stage in `PATCH
/api/pipelines/{id}`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.forecast import ForecastService
from crm.users import UserInfo
from kernel.errors import DomainError
from web.auth import crm_of, csrf_valid
from web.i18n import N_, translations
from web.pages import page_language
from web.pages.admin.coded_lists import EXPIRED, NOT_SAVED
from web.pages.admin.layout import AdminPage, render_admin

router = APIRouter(include_in_schema=False)

PATH = "/admin/pipelines"
SAVED = N_("Saved.")
KINDS = {"open": N_("open"), "won": N_("won"), "lost": N_("lost")}
BAD_NUMBER = N_("A probability is a whole number from 0 to 100, or empty for the default.")


def _service(request: Request) -> ForecastService:
    return ForecastService(crm_of(request).db)


async def _page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    entered: dict[int, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    stages = await _service(request).stages()
    done = SAVED if request.query_params.get("done") == "1" else None
    context = {
        "stages": stages,
        "kinds": KINDS,
        "message": message,
        "done": done,
        "entered": entered or {},
    }
    return render_admin(
        request, "admin/pipelines.html", context, user=user, status_code=status_code
    )


@router.get(PATH, response_class=HTMLResponse)
async def pipelines_page(request: Request, user: AdminPage) -> HTMLResponse:
    return await _page(request, user)


@router.post(PATH, response_class=HTMLResponse)
async def pipelines_save(request: Request, user: AdminPage) -> Response:
    gettext = translations(page_language(request, user)).gettext
    form = await request.form()
    if not csrf_valid(request, str(form.get("csrf_token") or "")):
        return await _page(request, user, message=gettext(EXPIRED), status_code=403)
    entered: dict[int, str] = {}
    values: dict[int, int | None] = {}
    known = {s["id"] for s in await _service(request).stages()}
    for key, raw in form.multi_items():
        if not key.startswith("probability_") or not key[12:].isdigit():
            continue
        stage_id, text = int(key[12:]), str(raw).strip()[:8]
        if stage_id not in known:
            continue
        entered[stage_id] = text
        if text == "":
            values[stage_id] = None
        elif text.isdigit() and int(text) <= 100:
            values[stage_id] = int(text)
        else:
            message = gettext(NOT_SAVED) % {"problem": gettext(BAD_NUMBER)}
            return await _page(request, user, message=message, entered=entered, status_code=422)
    try:
        await _service(request).set_probabilities(values)
    except DomainError as exc:
        message = gettext(NOT_SAVED) % {"problem": gettext(exc.message)}
        return await _page(request, user, message=message, entered=entered, status_code=422)
    return RedirectResponse(f"{PATH}?done=1", status_code=303)
