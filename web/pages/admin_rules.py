"""The administrator's rules pages: `/admin/routing` (and later settings of the same kind).

`/admin/routing` shows the routing rules in force (what each line gets, and the rules
document as TOML text), a preview of where a call would go now ("a call from … to …
would go to … because …", the router's own decision: `supervisor.rules_admin`), and the
history of versions. Admins edit the document and roll back; supervisors read and
preview; agents get the 403 page. The forms post to the page (CSRF token) and work
without JavaScript; the JSON API is `web.api.routing_rules`.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from crm.errors import Conflict, NotFound
from crm.users import UserInfo
from routing.decision import Decision
from routing.document import Problem, RulesDocumentError
from routing.reasons import render as render_reason
from routing.rules import Policy, RoutingRules
from supervisor.audit import Actor
from supervisor.rules_admin import RulesAdmin
from web.auth import client_ip, csrf_valid
from web.i18n import N_, translations
from web.pages import page_language, page_role
from web.pages.admin.layout import render_admin

router = APIRouter(include_in_schema=False)

Reader = Annotated[UserInfo, Depends(page_role("supervisor", "admin"))]
Admin = Annotated[UserInfo, Depends(page_role("admin"))]

EXPIRED = N_("The form expired; reload the page and try again.")
PREFER = {"last-agent": N_("the last agent"), "owner": N_("the owner")}
AFTER = {
    "queue": N_("queue %(target)s"),
    "dial": N_("dial %(target)s"),
    "goto": N_("go to %(target)s"),
}
DAYS = {
    "mon": N_("Mon"),
    "tue": N_("Tue"),
    "wed": N_("Wed"),
    "thu": N_("Thu"),
    "fri": N_("Fri"),
    "sat": N_("Sat"),
    "sun": N_("Sun"),
}


def _admin(request: Request) -> RulesAdmin:
    admin: RulesAdmin = request.app.state.services.rules_admin
    return admin


def _actor(user: UserInfo, request: Request) -> Actor:
    return Actor(
        user_id=user.id,
        login=user.login,
        name=user.name,
        role=str(user.role),
        interfaces=tuple(user.interfaces),
        client_ip=client_ip(request),
    )


def policy_row(label: str, policy: Policy) -> dict[str, Any]:
    """One line's effective rules, as the page's table shows them (values, not words:
    the template translates)."""
    hours = policy.hours
    plan = policy.after_hours
    target = {"queue": plan.queue or policy.queue, "dial": plan.dial, "goto": plan.goto}
    return {
        "label": label,
        "queue": policy.queue,
        "prefer": [PREFER[p] for p in policy.prefer],
        "lookback_days": f"{policy.lookback_days:g}",
        "ring_seconds": policy.ring_seconds,
        "when_busy": policy.when_busy,
        "wait_seconds": policy.wait_seconds,
        "vip": sorted(policy.vip.items()),
        "timezone": hours.timezone if hours else None,
        "days": _days(policy),
        "holidays": sorted(d.isoformat() for d in hours.holidays) if hours else [],
        "after_hours": (AFTER[plan.action], target[plan.action]) if hours else None,
    }


def _days(policy: Policy) -> list[tuple[str, str]]:
    if policy.hours is None:
        return []
    out = []
    for day, label in DAYS.items():
        ranges = getattr(policy.hours, day)
        text = ", ".join(f"{s // 60:02}:{s % 60:02}–{e // 60:02}:{e % 60:02}" for s, e in ranges)
        if text:
            out.append((label, text))
    return out


def effective(rules: RoutingRules) -> list[dict[str, Any]]:
    rows = [policy_row("", rules.for_did(None))]
    rows += [policy_row(f"queue:{name}", p) for name, p in sorted(rules.queues.items())]
    rows += [policy_row(f"did:{did}", p) for did, p in sorted(rules.dids.items())]
    return rows


FIRST = {
    "last-agent,owner": ("last-agent", "owner"),
    "owner,last-agent": ("owner", "last-agent"),
    "last-agent": ("last-agent",),
    "owner": ("owner",),
    "": (),
}
FIRST_LABELS = {
    "last-agent,owner": N_("the last agent, then the owner"),
    "owner,last-agent": N_("the owner, then the last agent"),
    "last-agent": N_("only the last agent"),
    "owner": N_("only the owner"),
    "": N_("nobody: the queue"),
}


def line_form(rules: RoutingRules, line: str) -> dict[str, Any]:
    """The "change a line" form: the lines to choose from and the chosen one's values."""
    lines = [("", None)]
    lines += [(f"queue:{name}", None) for name in sorted(rules.queues)]
    lines += [(f"did:{did}", None) for did in sorted(rules.file.dids)]
    known = {key for key, _ in lines}
    line = line if line in known else ""
    if line.startswith("queue:"):
        policy = rules.for_queue(line[6:])
    elif line.startswith("did:"):
        policy = rules.for_did(line[4:])
    else:
        policy = rules.default
    return {
        "lines": [key for key, _ in lines],
        "line": line,
        "queue": policy.queue,
        "first": ",".join(policy.prefer),
        "first_labels": FIRST_LABELS,
        "lookback_days": f"{policy.lookback_days:g}",
        "ring_seconds": policy.ring_seconds,
        "when_busy": policy.when_busy,
        "wait_seconds": policy.wait_seconds,
    }


def changed_document(
    document: dict[str, Any], line: str, new_did: str, values: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The document with one line's keys set (`line` "", "queue:NAME", "did:NUMBER", or
    a new DID) and the label of the line changed."""
    doc = copy.deepcopy(document)
    if new_did.strip():
        line = "did:" + new_did.strip()
    if line.startswith("queue:"):
        target = doc.setdefault("queues", {}).setdefault(line[6:], {})
        values = {k: v for k, v in values.items() if k != "queue"}  # a queue's own name
    elif line.startswith("did:"):
        target = doc.setdefault("dids", {}).setdefault(line[4:], {})
    else:
        target = doc
    target.update(values)
    return doc, line or "default"


def preview_view(decision: Decision, lang: str) -> dict[str, Any]:
    return {
        "routed_by": decision.routed_by.value,
        "agent": decision.agent_name or decision.agent,
        "interface": decision.agent,
        "queue": decision.queue,
        "priority": decision.priority,
        "goto": decision.goto,
        "wait": decision.wait_seconds,
        "ring": decision.ring_seconds,
        "reason": render_reason(decision.why, lang) if decision.why else decision.reason,
    }


async def _page(
    request: Request,
    user: UserInfo,
    *,
    text: str | None = None,
    problems: list[Problem] | None = None,
    preview: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    admin = _admin(request)
    current = admin.current
    context = {
        "current": current,
        "text": current.text if text is None else text,
        "problems": problems or [],
        "rows": effective(admin.router.rules),
        "history": await admin.history(50),
        "editable": str(user.role) == "admin",
        "preview": preview,
        "form": form or {"caller": "", "did": "", "at": ""},
        "message": message,
        "saved": request.query_params.get("saved"),
        "line_form": line_form(admin.router.rules, request.query_params.get("line", "")),
    }
    return render_admin(request, "admin/routing.html", context, user=user, status_code=status_code)


@router.get("/admin/routing", response_class=HTMLResponse)
async def routing_page(request: Request, user: Reader) -> HTMLResponse:
    return await _page(request, user)


@router.post("/admin/routing", response_class=HTMLResponse)
async def routing_save(
    request: Request,
    user: Admin,
    toml: Annotated[str, Form(max_length=200_000)] = "",
    version: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
    check_only: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    gettext = translations(page_language(request, user)).gettext
    if not csrf_valid(request, csrf_token):
        return await _page(request, user, text=toml, message=gettext(EXPIRED), status_code=403)
    admin = _admin(request)
    try:
        if check_only:
            admin.parse(text=toml)
            return await _page(
                request, user, text=toml, message=gettext("The rules are valid (not saved yet).")
            )
        stored = await admin.save(_actor(user, request), text=toml, base_version=version)
    except RulesDocumentError as exc:
        return await _page(request, user, text=toml, problems=exc.problems, status_code=422)
    except Conflict:
        message = gettext(
            "Someone saved the rules while you edited them: your text is below, "
            "the saved version is in the history."
        )
        return await _page(request, user, text=toml, message=message, status_code=409)
    return RedirectResponse(f"/admin/routing?saved={stored.version}", status_code=303)


@router.post("/admin/routing/line", response_class=HTMLResponse)
async def routing_line(
    request: Request,
    user: Admin,
    line: Annotated[str, Form(max_length=100)] = "",
    new_did: Annotated[str, Form(max_length=64)] = "",
    queue: Annotated[str, Form(max_length=80)] = "",
    first: Annotated[str, Form(max_length=40)] = "",
    lookback_days: Annotated[str, Form(max_length=10)] = "",
    ring_seconds: Annotated[str, Form(max_length=10)] = "",
    when_busy: Annotated[str, Form(max_length=10)] = "",
    wait_seconds: Annotated[str, Form(max_length=10)] = "",
    version: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One line's main rules from the form: the document with those keys set, saved as a
    new version (checked like any document)."""
    gettext = translations(page_language(request, user)).gettext
    if not csrf_valid(request, csrf_token):
        return await _page(request, user, message=gettext(EXPIRED), status_code=403)
    admin = _admin(request)
    values: dict[str, Any] = {
        "queue": queue.strip(),
        "prefer": list(FIRST.get(first, ())),
        "lookback_days": _number(lookback_days),
        "ring_seconds": _number(ring_seconds),
        "when_busy": when_busy,
        "wait_seconds": _number(wait_seconds),
    }
    document, label = changed_document(admin.current.document, line, new_did, values)
    try:
        stored = await admin.save(
            _actor(user, request), document=document, base_version=version, note=f"form: {label}"
        )
    except RulesDocumentError as exc:
        return await _page(request, user, problems=exc.problems, status_code=422)
    except Conflict:
        message = gettext(
            "Someone saved the rules while you edited them: your text is below, "
            "the saved version is in the history."
        )
        return await _page(request, user, message=message, status_code=409)
    return RedirectResponse(f"/admin/routing?saved={stored.version}", status_code=303)


def _number(text: str) -> float | int | str:
    """A form's number as a number (a float only when it has a fraction); else the text,
    which the rules' check refuses naming the field."""
    try:
        value = float(text.strip())
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


@router.post("/admin/routing/preview", response_class=HTMLResponse)
async def routing_preview(
    request: Request,
    user: Reader,
    caller: Annotated[str, Form(max_length=256)] = "",
    did: Annotated[str, Form(max_length=64)] = "",
    at: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    lang = page_language(request, user)
    gettext = translations(lang).gettext
    form = {"caller": caller, "did": did, "at": at}
    if not csrf_valid(request, csrf_token):
        return await _page(request, user, form=form, message=gettext(EXPIRED), status_code=403)
    moment = None
    if at.strip():
        try:
            moment = datetime.fromisoformat(at.strip())
        except ValueError:
            message = gettext("The time is not a date and time.")
            return await _page(request, user, form=form, message=message, status_code=422)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(request.app.state.services.settings.timezone))
    decision = await _admin(request).preview(caller, did, at=moment)
    preview = preview_view(decision, lang)
    preview["caller"] = caller
    preview["did"] = did
    preview["at"] = moment
    return await _page(request, user, form=form, preview=preview)


@router.post("/admin/routing/rollback", response_class=HTMLResponse)
async def routing_rollback(
    request: Request,
    user: Admin,
    version: Annotated[int, Form(ge=1, le=2**31 - 1)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    gettext = translations(page_language(request, user)).gettext
    if not csrf_valid(request, csrf_token):
        return await _page(request, user, message=gettext(EXPIRED), status_code=403)
    try:
        stored = await _admin(request).rollback(_actor(user, request), version)
    except NotFound:
        message = gettext("There is no such version.")
        return await _page(request, user, message=message, status_code=404)
    return RedirectResponse(f"/admin/routing?saved={stored.version}", status_code=303)
