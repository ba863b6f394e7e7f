"""`/admin/triggers` (admins): the triggers — list, switch on and off, add, edit, delete,
a dry run against a past call, and each rule's run log. Server-rendered forms with the
CSRF token; the JSON API is `web.api.rules`, the service `crm.rules.service`.

A `schedule.*` rule's time (HH:MM), "weekdays only" and idle days are plain fields.
A rule's conditions and actions are posted as JSON lists; a point-and-click editor
(`web.pages.admin.rule_builder`, static/js/admin/rule-builder.js) writes them, and with
scripts off they are edited by hand (the page lists the fields, operators and actions
each takes); the built-in missed-call rule shows a switch and its
due time only. A refused rule comes back with the form as typed and a message naming
the field in the admin's language (`web.rule_texts.problem`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from crm.rules.fields import FIELDS, OPERATORS
from crm.rules.schedule import WITH_DAYS
from crm.rules.service import RuleService
from crm.users import UserInfo
from kernel.errors import DomainError
from web.auth import crm_of
from web.i18n import N_
from web.pages.admin.coded_lists import NOT_SAVED
from web.pages.admin.layout import AdminPage, render_admin
from web.pages.admin.posting import Gettext, page_gettext, posted
from web.pages.admin.rule_builder import builder_data
from web.params import PathId
from web.rule_audit import audited
from web.rule_texts import ACTIONS, BUILTIN_SAYS, EVENTS, problem

router = APIRouter(include_in_schema=False)

PATH = "/admin/triggers"
NOT_JSON = N_("this is not valid here")
DONE = {
    "1": N_("Saved."),
    "removed": N_("Removed."),
    "on": N_("The rule is on."),
    "off": N_("The rule is off."),
}
EXAMPLE_CONDITIONS = '[{"field": "contact_tags", "op": "has", "value": "vip"}]'
EXAMPLE_TITLE = N_("Call back")
EXAMPLE_ACTIONS = (
    '[{"type": "create_task", "title": "%s {{ contact_name }}",\n'
    '  "assignee": ["owner", "supervisor"], "due_hours": 1, "working_hours": true}]'
)
CALLBACK_TEXT = BUILTIN_SAYS


def _rules(request: Request) -> RuleService:
    return crm_of(request).rules


def _summary(rule: dict[str, Any]) -> list[str]:
    return [str(a.get("type")) for a in rule.get("actions", [])]


def _reference() -> dict[str, Any]:
    return {
        "fields": [
            (name, f.kind, ", ".join(OPERATORS[f.kind]), ", ".join(sorted(f.events)))
            for name, f in FIELDS.items()
        ],
        "actions": [(k, v) for k, v in ACTIONS.items() if k != "callback_task"],
    }


async def _list_page(
    request: Request,
    user: UserInfo,
    *,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    done = DONE.get(request.query_params.get("done") or "")
    context = {
        "rules": await _rules(request).list(),
        "events": EVENTS,
        "actions_names": ACTIONS,
        "summary": _summary,
        "message": message,
        "done": done,
        "form": form
        or {
            "name": "",
            "event": "call.missed",
            "conditions": EXAMPLE_CONDITIONS,
            "actions": EXAMPLE_ACTIONS % _gettext(request, user)(EXAMPLE_TITLE),
            **_schedule_form({"at": "09:00", "days": 14}),
        },
        "builder": await builder_data(request, user),
        **_reference(),
    }
    return render_admin(request, "admin/triggers.html", context, user=user, status_code=status_code)


async def _rule_page(
    request: Request,
    user: UserInfo,
    rule_id: int,
    *,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    test: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    service = _rules(request)
    rule = await service.get(rule_id)
    due = next(
        (a.get("due_minutes") for a in rule["actions"] if a.get("type") == "callback_task"), None
    )
    context = {
        "rule": rule,
        "runs": await service.runs(rule_id, limit=30),
        "events": EVENTS,
        "actions_names": ACTIONS,
        "message": message,
        "done": DONE.get(request.query_params.get("done") or ""),
        "callback_text": CALLBACK_TEXT,
        "due_minutes": "" if due is None else due,
        "form": form
        or {
            "name": rule["name"],
            "event": rule["event"],
            "conditions": _lines(rule["conditions"]),
            "actions": _lines(rule["actions"]),
            **_schedule_form(rule.get("schedule")),
        },
        "test": test,
        "as_json": lambda value: json.dumps(value, ensure_ascii=False),
        "builder": None if rule["builtin"] else await builder_data(request, user),
        **_reference(),
    }
    return render_admin(request, "admin/trigger.html", context, user=user, status_code=status_code)


def _lines(items: list[dict[str, Any]]) -> str:
    """A JSON list for the form: one item a line."""
    if not items:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]"


def _schedule(event: str, at: str, days: str, weekdays: str) -> dict[str, Any] | None:
    """The schedule part of the form, for a `schedule.*` event (else None)."""
    if not event.startswith("schedule."):
        return None
    out: dict[str, Any] = {"at": at.strip(), "weekdays_only": bool(weekdays)}
    if event in WITH_DAYS:
        text = days.strip()
        out["days"] = int(text) if text.isdigit() else (text or 14)
    return out


def _schedule_form(schedule: dict[str, Any] | None) -> dict[str, Any]:
    schedule = schedule or {}
    return {
        "schedule_at": schedule.get("at", ""),
        "schedule_days": schedule.get("days", ""),
        "schedule_weekdays": bool(schedule.get("weekdays_only")),
    }


def _gettext(request: Request, user: UserInfo) -> Any:
    return page_gettext(request, user)


def _not_saved(exc: DomainError, gettext: Gettext) -> str:
    return gettext(NOT_SAVED) % {"problem": problem(exc, gettext)}


def _parsed(text: str, field: str) -> Any:
    try:
        return json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise BadJson(field, f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from exc


class BadJson(DomainError):
    """What the form holds is not JSON (or the call is not a number)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__("invalid", NOT_JSON, field, detail=detail)


@router.get(PATH, response_class=HTMLResponse)
async def triggers_page(request: Request, user: AdminPage) -> HTMLResponse:
    return await _list_page(request, user)


@router.post(PATH, response_class=HTMLResponse)
async def trigger_add(
    request: Request,
    user: AdminPage,
    name: Annotated[str, Form(max_length=200)] = "",
    event: Annotated[str, Form(max_length=40)] = "",
    conditions: Annotated[str, Form(max_length=20_000)] = "",
    actions: Annotated[str, Form(max_length=40_000)] = "",
    enabled: Annotated[str, Form(max_length=5)] = "",
    schedule_at: Annotated[str, Form(max_length=20)] = "",
    schedule_days: Annotated[str, Form(max_length=10)] = "",
    schedule_weekdays: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"name": name, "event": event, "conditions": conditions, "actions": actions}
    form.update(
        schedule_at=schedule_at, schedule_days=schedule_days, schedule_weekdays=schedule_weekdays
    )

    async def add() -> str:
        data = {
            "name": name,
            "event": event,
            "conditions": _parsed(conditions, "conditions"),
            "actions": _parsed(actions, "actions"),
            "enabled": bool(enabled),
            "schedule": _schedule(event, schedule_at, schedule_days, schedule_weekdays),
        }
        rule = await _rules(request).create(data, user.id)
        await audited(request, user, rule["id"], None, rule)
        return f"{PATH}/{rule['id']}?done=1"

    async def again(message: str, status_code: int) -> Response:
        return await _list_page(request, user, message=message, form=form, status_code=status_code)

    return await posted(request, user, csrf_token, add, again, _not_saved)


@router.get(PATH + "/{rule_id}", response_class=HTMLResponse)
async def trigger_page(rule_id: PathId, request: Request, user: AdminPage) -> HTMLResponse:
    return await _rule_page(request, user, rule_id)


@router.post(PATH + "/{rule_id}", response_class=HTMLResponse)
async def trigger_save(
    rule_id: PathId,
    request: Request,
    user: AdminPage,
    name: Annotated[str, Form(max_length=200)] = "",
    event: Annotated[str, Form(max_length=40)] = "",
    conditions: Annotated[str, Form(max_length=20_000)] = "",
    actions: Annotated[str, Form(max_length=40_000)] = "",
    due_minutes: Annotated[str, Form(max_length=10)] = "",
    builtin: Annotated[str, Form(max_length=5)] = "",
    enabled: Annotated[str, Form(max_length=5)] = "",
    delete: Annotated[str, Form(max_length=5)] = "",
    schedule_at: Annotated[str, Form(max_length=20)] = "",
    schedule_days: Annotated[str, Form(max_length=10)] = "",
    schedule_weekdays: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"name": name, "event": event, "conditions": conditions, "actions": actions}
    form.update(
        schedule_at=schedule_at, schedule_days=schedule_days, schedule_weekdays=schedule_weekdays
    )
    service = _rules(request)

    async def save() -> str:
        before = await service.get(rule_id)
        if delete:
            await service.delete(rule_id)
            await audited(request, user, rule_id, before, None)
            return f"{PATH}?done=removed"
        if builtin:
            minutes: Any = None
            if due_minutes.strip():
                minutes = int(due_minutes) if due_minutes.strip().isdigit() else due_minutes
            data: dict[str, Any] = {
                "enabled": bool(enabled),
                "actions": [{"type": "callback_task", "due_minutes": minutes}],
            }
        else:
            data = {
                "name": name,
                "event": event,
                "conditions": _parsed(conditions, "conditions"),
                "actions": _parsed(actions, "actions"),
                "enabled": bool(enabled),
                "schedule": _schedule(event, schedule_at, schedule_days, schedule_weekdays),
            }
        await audited(request, user, rule_id, before, await service.update(rule_id, data, user.id))
        return f"{PATH}/{rule_id}?done=1"

    async def again(message: str, status_code: int) -> Response:
        typed = form if status_code == 422 and not builtin else None
        return await _rule_page(
            request, user, rule_id, message=message, form=typed, status_code=status_code
        )

    return await posted(request, user, csrf_token, save, again, _not_saved)


@router.post(PATH + "/{rule_id}/enabled", response_class=HTMLResponse)
async def trigger_switch(
    rule_id: PathId,
    request: Request,
    user: AdminPage,
    enabled: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:

    async def switch() -> str:
        before = await _rules(request).get(rule_id)
        after = await _rules(request).set_enabled(rule_id, bool(enabled), user.id)
        await audited(request, user, rule_id, before, after)
        return f"{PATH}?done={'on' if enabled else 'off'}"

    async def again(message: str, status_code: int) -> Response:
        return await _list_page(request, user, message=message, status_code=status_code)

    return await posted(request, user, csrf_token, switch, again, _not_saved)


@router.post(PATH + "/{rule_id}/test", response_class=HTMLResponse)
async def trigger_test(
    rule_id: PathId,
    request: Request,
    user: AdminPage,
    call_id: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:

    async def dry_run() -> Response:
        if not call_id.strip().isdigit():
            raise BadJson("call_id", call_id)
        test = await _rules(request).test(rule_id, call_id=int(call_id))
        return await _rule_page(request, user, rule_id, test=test)

    async def again(message: str, status_code: int) -> Response:
        return await _rule_page(request, user, rule_id, message=message, status_code=status_code)

    return await posted(request, user, csrf_token, dry_run, again, problem)
