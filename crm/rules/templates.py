"""Texts a rule writes (task titles and descriptions, notices) are Jinja2 templates over
the event's fields, in a sandbox: no attribute of Python's internals, no I/O.

`check` runs at save time: it compiles the template and renders it with a sample event
of the rule's type and strict undefined names, so a typo (`{{ contact_nam }}`) or a
syntax error is refused then, naming the field, and not found at 3 a.m.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from crm.errors import InvalidInput

MAX_LENGTH = 2000
_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class TemplateProblem(InvalidInput):
    """A template that does not compile or render; `detail` is Jinja2's own words."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__("the template is not valid", field=field, detail=detail)
        self.detail = detail


@lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    template = _env.from_string(text)
    # Jinja2 copies the globals into every render's context from a ChainMap (half the
    # cost of rendering a task title); the sandbox's globals never change: a plain dict
    template.globals = dict(template.globals)
    return template


def render(text: str, facts: dict[str, Any]) -> str:
    return _compiled(text).render(**facts)


def check(text: Any, facts: dict[str, Any], field: str, *, required: bool = True) -> str:
    """The template, if it compiles and renders with `facts`; else `TemplateProblem`."""
    if text is None or text == "":
        if required:
            raise InvalidInput("enter a text", field=field)
        return ""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        raise InvalidInput("a text of at most 2000 characters is expected", field=field)
    try:
        render(text, facts)
    except TemplateError as exc:
        raise TemplateProblem(field, str(exc)) from exc
    except Exception as exc:  # a filter refused its argument, a division by zero …
        raise TemplateProblem(field, f"{type(exc).__name__}: {exc}") from exc
    return text
