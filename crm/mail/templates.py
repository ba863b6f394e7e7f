"""Letter templates: Jinja2 in a sandbox over the contact, the user and the mailbox.

The sandbox keeps a template from reaching Python's insides; multiplying text or lists
past a bound and `**` are refused, so a template cannot make a letter of gigabytes.
A template error is an `InvalidInput` naming the field, found when the letter is sent
(before anything goes out).
"""

from __future__ import annotations

import operator
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from crm.errors import InvalidInput

MAX_OUTPUT = 200_000  # characters a template may produce
TEMPLATE_ERROR = "this template has an error"
TOO_LONG = "the letter is too long"


class _Sandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            raise SecurityError("** is not allowed in letter templates")
        sized = [v for v in (left, right) if isinstance(v, str | list | tuple)]
        counts = [v for v in (left, right) if isinstance(v, int)]
        if sized and counts and len(sized[0]) * counts[0] > MAX_OUTPUT:
            raise SecurityError("the result would be too long")
        return operator.mul(left, right)


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render(template: str, context: dict[str, Any], field: str) -> str:
    """`template` with `context`; `InvalidInput` (with `detail`) when it cannot be used."""
    try:
        text = _ENV.from_string(template).render(context)
    except (TemplateError, SecurityError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(TEMPLATE_ERROR, field=field, detail=str(exc)[:300]) from exc
    if len(text) > MAX_OUTPUT:
        raise InvalidInput(TOO_LONG, field=field)
    return text
