"""The routing rules as a document people edit: TOML text or JSON, checked, located.

The rules stored by Trubka (``supervisor.rules_admin``) are the same document as the
rules file (``routing.rules``, ``docs/routing.md``): a mapping of plain values, kept as
JSON (dates as ``YYYY-MM-DD`` strings). This module turns TOML text into that document
and back, and checks a document: a bad one raises :class:`RulesDocumentError` naming
the path of the bad field (``dids.+74951112233.after_hours.dial``, list items as
``prefer[1]``) and, for text, the line it is on. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from pydantic import ValidationError

from routing.errors import RulesError
from routing.rules import RoutingRules, RulesFile

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_LINE = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_TEXT = 200_000  # characters of rules text accepted


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document: where (`field`, `line` for text) and what."""

    field: str | None
    message: str
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "line": self.line, "message": self.message}


class RulesDocumentError(RulesError):
    """A rules document that cannot be used; `problems` lists every fault found. Its kind
    is `invalid` (bad input, 422 over HTTP), its code `invalid_rules`; a bad rules *file*
    at start-up stays a RulesError, which stops Trubka."""

    code = "invalid"

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        where = f"line {first.line}: " if first.line is not None else ""
        super().__init__(where + first.message)
        self.code = RulesError.code
        self.field = first.field
        self.problems = problems
        self.details = {
            "line": first.line,
            "problems": [problem.to_json() for problem in problems],
        }


def field_path(loc: tuple[Any, ...]) -> str:
    """`("dids", "+7495", "prefer", 1)` → `dids.+7495.prefer[1]`; odd keys quoted."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        text = str(part)
        if re.fullmatch(r"[A-Za-z0-9_+-]+", text):
            out += ("." if out else "") + text
        else:
            out += f"[{json.dumps(text, ensure_ascii=False)}]"
    return out or "(top level)"


def jsonable(value: Any) -> Any:
    """A TOML value as JSON: dates and times as ISO strings, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def check(
    document: Mapping[str, Any], *, region: str = "RU", text: str | None = None
) -> RoutingRules:
    """The rules of a document, or RulesDocumentError naming every bad field (and its
    line in `text`, the TOML the document came from)."""
    if not isinstance(document, Mapping):
        raise RulesDocumentError([Problem(None, "the rules must be a table/object")])
    try:
        file = RulesFile.model_validate(dict(document))
    except ValidationError as exc:
        raise RulesDocumentError(_problems(exc, text)) from exc
    return RoutingRules(file, region=region, source="database")


def parse_text(text: str, *, region: str = "RU") -> tuple[dict[str, Any], RoutingRules]:
    """TOML text → (the document as JSON, its rules); RulesDocumentError with the line."""
    if len(text) > MAX_TEXT:
        raise RulesDocumentError(
            [Problem(None, f"the rules are longer than {MAX_TEXT} characters")]
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _LINE.search(message)
        line = None
        if match:
            line = int(match.group(1)) if match.group(1) else len(text.splitlines()) or 1
        message = _LINE.sub("", message).strip()
        raise RulesDocumentError([Problem(None, f"not valid TOML: {message}", line)]) from exc
    document = jsonable(data)
    return document, check(document, region=region, text=text)


def _problems(exc: ValidationError, text: str | None) -> list[Problem]:
    lines = key_lines(text) if text is not None else {}
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        path = field_path(loc)
        if error["type"] == "extra_forbidden":
            message = f"{path}: unknown key"
        else:
            detail = str(error["msg"]).removeprefix("Value error, ")
            message = f"{path}: {detail} (got {error.get('input')!r})"
        problems.append(Problem(path, message, _line_for(lines, loc) if text else None))
    return problems


def _line_for(lines: Mapping[tuple[str, ...], int], loc: tuple[Any, ...]) -> int | None:
    keys = tuple(str(part) for part in loc if not isinstance(part, int))
    for size in range(len(keys), 0, -1):
        line = lines.get(keys[:size])
        if line is not None:
            return line
    return None


def _split_key(raw: str) -> tuple[str, ...]:
    """A TOML dotted key (`dids."+7 495".hours`) as its parts."""
    parts: list[str] = []
    for match in re.finditer(
        r'\s*(?:"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([A-Za-z0-9_-]+))\s*(?:\.|$)', raw
    ):
        if match.group(1) is not None:
            parts.append(json.loads(f'"{match.group(1)}"'))
        elif match.group(2) is not None:
            parts.append(match.group(2))
        elif match.group(3) is not None:
            parts.append(match.group(3))
    return tuple(parts)


_HEADER = re.compile(r'^\s*\[(?!\[)((?:[^\]"\']|"(?:[^"\\]|\\.)*"|\'[^\']*\')+)\]')
_KEY = re.compile(
    r'^\s*((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\'))*)\s*='
)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """The line (1-based) where each key and table of TOML text is written."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            found.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            found.setdefault(table + _split_key(key.group(1)), number)
    return found


# --- the document as TOML text ---------------------------------------------------------


def _key(name: str) -> str:
    return name if _BARE.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _value(value: Any, *, dates: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if dates and _DATE.fullmatch(value):
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item, dates=dates) for item in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(document: Mapping[str, Any]) -> str:
    """The document as TOML text that :func:`parse_text` reads back to the same document."""
    out: list[str] = []

    def table(path: tuple[str, ...], data: Mapping[str, Any]) -> None:
        scalars = [(k, v) for k, v in data.items() if not isinstance(v, Mapping)]
        tables = [(k, v) for k, v in data.items() if isinstance(v, Mapping)]
        if path and (scalars or not tables):
            if out:
                out.append("")
            out.append("[" + ".".join(_key(part) for part in path) + "]")
        for key, value in scalars:
            out.append(f"{_key(str(key))} = {_value(value, dates=key == 'holidays')}")
        for key, value in tables:
            table((*path, str(key)), value)

    table((), document)
    return "\n".join(out) + "\n"
