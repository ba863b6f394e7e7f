"""The one domain error type every package's errors derive from.

A domain error says why something cannot be done (a request refused, an operator's file
rejected, a recording that cannot be kept), in terms a client can act on:

* `code`: a stable, machine-readable name (`not_found`, `agent_not_on_call` …). A subclass
  declares the code of its kind (`code = "not_found"`); an instance may name itself more
  precisely (an `agent_not_found` is a `not_found`), see :func:`kinds`;
* `message`: a sentence for people;
* `field`: the input at fault, when there is one;
* `details`: anything else a client gets (e.g. `current_version`, `retry_after`).

Nothing here knows about HTTP: `web.errors` maps the kinds to statuses, the command line
prints `message`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class DomainError(Exception):
    """Root of the errors the packages raise on purpose (a bug is not a DomainError)."""

    def __init__(self, code: str, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details


def kinds(error: DomainError) -> Iterator[str]:
    """The codes of the error's class and of its ancestors, most specific first.

    `TargetNotFound("…", code="agent_not_found")` is a `not_found`, then an
    `action_failed` (the class it derives from). The instance's own `code` is not a kind:
    it only names the error to clients."""
    for cls in type(error).__mro__:
        code = cls.__dict__.get("code")
        if isinstance(code, str):
            yield code
