"""`/admin/wrapup-codes` (admins): the wrap-up form's codes — add, change, deactivate.

Forms post to the page with the CSRF token and work without JavaScript; the JSON API is
`web.api.wrapup_codes`, the service `supervisor.wrapup_codes` (through the admin settings).
Removing a code that wrap-ups use only deactivates it: old wrap-ups keep its label.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from crm.users import UserInfo
from supervisor.audit import Actor
from supervisor.wrapup_codes import WrapupCodes
from web.i18n import N_
from web.pages.admin.coded_lists import CodedList, change
from web.pages.admin.layout import AdminPage, render_admin

router = APIRouter(include_in_schema=False)

PATH = "/admin/wrapup-codes"
DONE = {
    "1": N_("Saved."),
    "removed": N_("Removed."),
    "deactivated": N_("Wrap-ups use this code, so it was only deactivated."),
}


def _codes(request: Request) -> WrapupCodes:
    codes: WrapupCodes = request.app.state.services.admin_settings.wrapup_codes
    return codes


async def _page(
    request: Request, user: UserInfo, *, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    done = DONE.get(request.query_params.get("done") or "")
    context = {
        "codes": _codes(request).all(),
        "message": message,
        "done": done,
    }
    return render_admin(
        request, "admin/wrapup_codes.html", context, user=user, status_code=status_code
    )


def _form(label_en: str, label_ru: str, success: str, active: str) -> dict[str, Any]:
    return {
        "labels": {"en": label_en, "ru": label_ru},
        "success": bool(success),
        "active": bool(active),
    }


@router.get(PATH, response_class=HTMLResponse)
async def wrapup_codes_page(request: Request, user: AdminPage) -> HTMLResponse:
    return await _page(request, user)


@router.post(PATH, response_class=HTMLResponse)
async def wrapup_code_add(
    request: Request,
    user: AdminPage,
    code: Annotated[str, Form(max_length=40)] = "",
    label_en: Annotated[str, Form(max_length=200)] = "",
    label_ru: Annotated[str, Form(max_length=200)] = "",
    success: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    data = {"code": code, **_form(label_en, label_ru, success, "1")}
    return await _change(request, user, csrf_token, None, data)


@router.post(PATH + "/{code}", response_class=HTMLResponse)
async def wrapup_code_change(
    code: str,
    request: Request,
    user: AdminPage,
    label_en: Annotated[str, Form(max_length=200)] = "",
    label_ru: Annotated[str, Form(max_length=200)] = "",
    success: Annotated[str, Form(max_length=5)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
    delete: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    data = None if delete else _form(label_en, label_ru, success, active)
    return await _change(request, user, csrf_token, code, data)


def _entries(request: Request) -> CodedList:
    codes = _codes(request)

    async def delete(code: str, who: Actor) -> str:
        return "removed" if await codes.delete(code, who) else "deactivated"

    return CodedList(PATH, _page, codes.add, codes.update, delete)


async def _change(
    request: Request,
    user: UserInfo,
    csrf_token: str,
    code: str | None,
    data: dict[str, Any] | None,
) -> Response:
    return await change(_entries(request), request, user, csrf_token, code, data)
