"""The wrap-up codes (dispositions) over HTTP.

- `GET /api/wrapup-codes` (anyone signed in: the wrap-up form's choices) — every code in
  order, inactive ones too (`active: false`), with `label` in the user's language;
- `POST /api/wrapup-codes` (admins) `{code, labels: {en, ru}, success?, active?}` — a new
  code at the end of the list (201);
- `PUT /api/wrapup-codes/{code}` (admins) `{labels?, success?, active?}` — change one;
- `DELETE /api/wrapup-codes/{code}` (admins) — remove it (204), or only deactivate it when
  wrap-ups use it (200 with the code, `active: false`), so old wrap-ups keep their label.

Refusals are 422 naming the field (`code`, `labels.ru`, …) in the user's language; every
change is audited (`admin_setting`, key `wrapup_codes`, before → after).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from crm.users import UserInfo
from crm.wrapups import WrapupDisposition
from supervisor.wrapup_codes import WrapupCode, WrapupCodes
from web.api.admin_settings import user_language
from web.api.routing_rules import actor
from web.api.views import View
from web.auth import CurrentUser, require_json, require_role
from web.deps import get_services
from web.i18n import N_, translations
from web.panel.strings import WRAPUP_LABELS

router = APIRouter(prefix="/api", tags=["admin"], dependencies=[Depends(require_json)])

Admin = Annotated[UserInfo, Depends(require_role("admin"))]
# The built-in codes that do not count as a successful contact.
UNSUCCESSFUL = frozenset({WrapupDisposition.WRONG_NUMBER, WrapupDisposition.OTHER})


# The service's refusals (supervisor.wrapup_codes.MESSAGES, which cannot mark them for the
# web layer's catalogs), marked here; the API answers them in the user's language.
REFUSALS = (
    N_("The code is lower-case Latin letters, digits, '_', '.' or '-', at most 24."),
    N_("A label is needed in English and in Russian, at most 80 characters."),
    N_("This wrap-up code exists already."),
    N_("Choose a result from the list: this one is not offered."),
    N_("No such wrap-up code."),
    N_("Must be true or false."),
)


def builtin_wrapup_codes() -> list[dict[str, Any]]:
    """The wrap-up codes before an admin changes them: the built-in seven."""
    ru = translations("ru").gettext
    return [
        {
            "code": code.value,
            "labels": {"en": WRAPUP_LABELS[code], "ru": ru(WRAPUP_LABELS[code])},
            "success": code not in UNSUCCESSFUL,
            "active": True,
        }
        for code in WrapupDisposition
    ]


def wrapup_codes(request: Request) -> WrapupCodes:
    codes: WrapupCodes = get_services(request).admin_settings.wrapup_codes
    return codes


CodesDep = Annotated[WrapupCodes, Depends(wrapup_codes)]


class WrapupCodeOut(View):
    code: str
    label: str
    labels: dict[str, str]
    success: bool
    active: bool


class WrapupCodesOut(View):
    codes: list[WrapupCodeOut]


def code_json(item: WrapupCode, lang: str) -> dict[str, Any]:
    return {**item.to_dict(), "label": item.label(lang)}


@router.get("/wrapup-codes", response_model=WrapupCodesOut)
async def list_wrapup_codes(request: Request, user: CurrentUser, codes: CodesDep) -> dict[str, Any]:
    """Every wrap-up code, in order (inactive ones are no longer offered)."""
    lang = user_language(request, user)
    return {"codes": [code_json(c, lang) for c in codes.all()]}


@router.post("/wrapup-codes", response_model=WrapupCodeOut, status_code=201)
async def add_wrapup_code(
    request: Request, user: Admin, codes: CodesDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Add a wrap-up code at the end of the list."""
    item = await codes.add(body, actor(user, request))
    return code_json(item, user_language(request, user))


@router.put("/wrapup-codes/{code}", response_model=WrapupCodeOut)
async def change_wrapup_code(
    code: str,
    request: Request,
    user: Admin,
    codes: CodesDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Change a code's labels, whether it counts as a success, whether it is offered."""
    item = await codes.update(code, body, actor(user, request))
    return code_json(item, user_language(request, user))


@router.delete(
    "/wrapup-codes/{code}",
    status_code=204,
    responses={200: {"model": WrapupCodeOut, "description": "in use: only deactivated"}},
)
async def delete_wrapup_code(code: str, request: Request, user: Admin, codes: CodesDep) -> Response:
    """Remove a code; one that wrap-ups use is deactivated instead (200)."""
    if await codes.delete(code, actor(user, request)):
        return Response(status_code=204)
    return JSONResponse(code_json(codes.get(code), user_language(request, user)))
