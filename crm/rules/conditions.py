"""A rule's "if": a list of typed conditions `{"field", "op", "value"}`, all of which must
hold. `validate` refuses a bad one naming it (`conditions.2.value`); `evaluate` says, for
each, the value it saw and whether it held (the run log keeps both).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from crm.errors import InvalidInput
from crm.rules.fields import NUMBER, OPERATORS, TAGS, TEXT, TIME, USER, fields_of

HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
NO_VALUE = frozenset({"empty", "not_empty"})
LISTS = frozenset({"in", "not_in", "has_any", "between"})
MAX_CONDITIONS = 20


@dataclass(frozen=True, slots=True)
class Checked:
    field: str
    op: str
    value: Any
    actual: Any
    ok: bool

    def json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "op": self.op,
            "value": self.value,
            "actual": self.actual,
            "ok": self.ok,
        }


def _scalar(kind: str, value: Any, where: str) -> Any:
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("a number is expected", field=where)
        return value
    if kind == USER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("a user id is expected", field=where)
        return value
    if kind == TIME:
        if not isinstance(value, str) or not HHMM.fullmatch(value):
            raise InvalidInput("a time of day is expected as HH:MM", field=where)
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidInput("a text of 1 to 200 characters is expected", field=where)
    return value.strip()


def validate(event: str, conditions: Any) -> list[dict[str, Any]]:
    """The conditions, checked and normalized; `InvalidInput` names the bad one."""
    if not isinstance(conditions, list):
        raise InvalidInput("the conditions must be a list", field="conditions")
    if len(conditions) > MAX_CONDITIONS:
        raise InvalidInput("at most 20 conditions", field="conditions")
    known = fields_of(event)
    out = []
    for index, item in enumerate(conditions):
        where = f"conditions.{index}"
        if not isinstance(item, dict) or set(item) - {"field", "op", "value"}:
            raise InvalidInput("a condition is {field, op, value}", field=where)
        name = item.get("field")
        if name not in known:
            raise InvalidInput("this event has no such field", field=f"{where}.field")
        kind = known[name].kind
        op = item.get("op")
        if op not in OPERATORS[kind]:
            raise InvalidInput("this operator does not apply to the field", field=f"{where}.op")
        value = item.get("value")
        if op in NO_VALUE:
            value = None
        elif op in LISTS:
            if not isinstance(value, list) or not value or len(value) > 100:
                raise InvalidInput("a list of values is expected", field=f"{where}.value")
            element = TEXT if kind == TAGS else kind
            value = [_scalar(element, v, f"{where}.value.{i}") for i, v in enumerate(value)]
            if op == "between" and len(value) != 2:
                raise InvalidInput("between takes two times: from and to", field=f"{where}.value")
        else:
            value = _scalar(TEXT if kind == TAGS else kind, value, f"{where}.value")
        out.append({"field": name, "op": op, "value": value})
    return out


def _holds(op: str, actual: Any, value: Any) -> bool:
    if op == "empty":
        return actual in (None, "", [])
    if op == "not_empty":
        return actual not in (None, "", [])
    if op in ("has", "has_not", "has_any"):
        tags = {str(t).casefold() for t in (actual or ())}
        if op == "has_any":
            return any(str(v).casefold() in tags for v in value)
        return (str(value).casefold() in tags) == (op == "has")
    if op == "contains":
        return actual is not None and str(value).casefold() in str(actual).casefold()
    if op in ("in", "not_in"):
        return (actual in value) == (op == "in")
    if op == "before":
        return actual is not None and actual < value
    if op == "after":
        return actual is not None and actual >= value
    if op == "between":
        start, end = value
        if actual is None:
            return False
        return bool(start <= actual < end if start <= end else (actual >= start or actual < end))
    if op in ("eq", "ne"):
        return bool((actual == value) == (op == "eq"))
    if actual is None:
        return False
    if op == "gt":
        return bool(actual > value)
    if op == "ge":
        return bool(actual >= value)
    if op == "lt":
        return bool(actual < value)
    return bool(actual <= value)


def evaluate(conditions: list[dict[str, Any]], facts: dict[str, Any]) -> list[Checked]:
    """Each condition with what it saw; a rule's conditions hold when all `ok`."""
    out = []
    for c in conditions:
        actual = facts.get(c["field"])
        try:
            ok = _holds(c["op"], actual, c["value"])
        except TypeError:
            ok = False
        out.append(Checked(c["field"], c["op"], c["value"], actual, ok))
    return out
