"""`GET /api/route?caller=…&did=…`: the routing decision as JSON, for CURL() dialplans.

The same decision the FastAGI server makes (``telephony.router.CallRouter``), with no
browser session. Protected either way:

* ``TRUBKA_ROUTE_TOKEN`` set: the request must carry it, as ``X-Trubka-Token: …``,
  ``Authorization: Bearer …`` or ``?token=…`` (401 otherwise), from any address;
* not set: only loopback clients (127.0.0.0/8, ::1) may ask (403 otherwise).

``format=hash`` answers ``key=value&…`` (URL-encoded) for Asterisk's
``CURLOPT(hashcompat)=yes`` + ``HASH()``; the default is JSON.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from routing.decision import Decision
from telephony.agi import clean_text, display_name
from telephony.agi_server import REASON_LIMIT
from web.deps import get_services

router = APIRouter()

_NO_STORE = {"Cache-Control": "no-store"}


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorize(
    request: Request,
    configured: str,
    offered: str | None,
    *,
    variable: str = "TRUBKA_ROUTE_TOKEN",
    what: str = "routing requests",
) -> None:
    """The configured token (`variable`) was offered, or, with none set, a loopback client."""
    if configured:
        if offered is None or not hmac.compare_digest(offered.encode(), configured.encode()):
            raise HTTPException(
                401, f"a valid {variable} is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return
    client = request.client.host if request.client else None
    if not _loopback(client):
        raise HTTPException(403, f"set {variable} to allow {what} from other hosts")


def hash_fields(decision: Decision) -> dict[str, str]:
    """The decision as flat strings, for `key=value&…`."""
    return {
        "routed_by": decision.routed_by.value,
        "reason": clean_text(decision.reason, REASON_LIMIT),
        "agent": decision.agent or "",
        "timeout": str(decision.ring_seconds) if decision.agent else "",
        "wait": str(decision.wait_seconds) if decision.agent and decision.wait_seconds else "",
        "queue": decision.queue,
        "priority": str(decision.priority or ""),
        "goto": decision.goto or "",
        "contact_id": "" if decision.contact_id is None else str(decision.contact_id),
        "contact_name": display_name(decision.contact_name or ""),
    }


@router.get("/api/route", tags=["routing"])
async def route_call(
    request: Request,
    services: Annotated[Any, Depends(get_services)],
    caller: Annotated[str, Query(description="the caller's number as the PBX sees it")] = "",
    did: Annotated[str, Query(description="the called number (DID)")] = "",
    format: Annotated[Literal["json", "hash"], Query()] = "json",
    pbx: Annotated[
        str | None,
        Query(max_length=64, description="the asking PBX (TRUBKA_PBXES' name): agent as it dials"),
    ] = None,
    token: Annotated[
        str | None, Query(description="the route token, if not sent as a header")
    ] = None,
    x_trubka_token: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    bearer = (
        authorization[7:].strip()
        if authorization and authorization[:7].lower() == "bearer "
        else None
    )
    authorize(request, services.settings.route_token, x_trubka_token or bearer or token)
    decision: Decision = await services.router.route(caller[:256], did[:64], pbx=pbx)
    if format == "hash":
        body = urlencode(hash_fields(decision), quote_via=quote)
        return PlainTextResponse(body, headers=_NO_STORE)
    data = decision.to_json()
    data["reason"] = clean_text(decision.reason, REASON_LIMIT)
    data["caller"] = services.router.caller(caller[:256], did[:64]).number
    data["did"] = did[:64] or None
    return JSONResponse(data, headers=_NO_STORE)
