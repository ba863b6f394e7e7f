"""Routing rules: a TOML or JSON file, validated with pydantic, resolved per DID and queue.

The file (named by ``TRUBKA_ROUTING_RULES``; format in ``docs/routing.md``) holds the
default policy at its top level, overrides per queue under ``[queues.NAME]`` and per
called number under ``[dids."NUMBER"]``. A call's effective policy is the defaults,
then its queue's overrides, then its DID's overrides (a DID may name its queue). Every
effective policy is computed once when the file is loaded, so routing a call is a dict
look-up. A bad file raises :class:`~routing.errors.RulesError` naming the bad key, e.g.
``dids.+74951234567.when_busy: Input should be 'queue' or 'wait' (got 'later')``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kernel.phones import normalize
from routing.errors import RulesError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# What the dialplan may receive: `PJSIP/101`, `Local/101@agents/n`, `SIP/trunk/100`.
DIALABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*/[A-Za-z0-9_.@+:/-]{1,120}$")
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
LOGIN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
GOTO = re.compile(r"^[A-Za-z0-9_.-]{1,80},[A-Za-z0-9_.+*#-]{1,80},[A-Za-z0-9_]{1,40}$")
_SEEN_MAX = 10_000  # called-number spellings remembered by RoutingRules.for_did
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Prefer = Literal["last-agent", "owner"]
Seconds = Annotated[int, Field(ge=1, le=3600)]


def is_dialable(interface: str) -> bool:
    return bool(DIALABLE.fullmatch(interface))


def _queue_name(value: str | None) -> str | None:
    if value is not None and not QUEUE_NAME.fullmatch(value):
        raise ValueError("a queue name is letters, digits, '_', '-' or '.' (at most 80)")
    return value


def _login(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not LOGIN.fullmatch(value):
        raise ValueError("a supervisor is named by login: letters, digits, '_', '.', '@' or '-'")
    return value


def _check_prefer(value: Any) -> Any:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and len(set(value)) != len(value):
        raise ValueError("name each of last-agent/owner at most once")
    return value


def _lower_tags(value: Mapping[str, int] | None) -> Mapping[str, int] | None:
    if value is None:
        return None
    return {tag.strip().lower(): prio for tag, prio in value.items()}


def _parse_ranges(value: Any) -> tuple[tuple[int, int], ...]:
    """`"09:00-18:00"`, `["09:00-13:00", "14:00-18:00"]`, `"closed"` or `[]` → minutes."""
    if value is None or value == "closed" or value == []:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError('use "HH:MM-HH:MM", a list of them, or "closed"')
    ranges: list[tuple[int, int]] = []
    for item in items:
        match = _RANGE.fullmatch(item)
        if not match:
            raise ValueError(f'{item!r} is not "HH:MM-HH:MM"')
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or start > 24 * 60 or end > 24 * 60:
            raise ValueError(f"{item!r} is not a time of day (00:00 … 24:00)")
        if end <= start:
            raise ValueError(f"{item!r} ends before it starts (split a night shift over two days)")
        ranges.append((start, end))
    return tuple(sorted(ranges))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Strict):
    """Working hours per weekday in one time zone; a weekday left out is closed."""

    timezone: str = "UTC"
    mon: tuple[tuple[int, int], ...] = ()
    tue: tuple[tuple[int, int], ...] = ()
    wed: tuple[tuple[int, int], ...] = ()
    thu: tuple[tuple[int, int], ...] = ()
    fri: tuple[tuple[int, int], ...] = ()
    sat: tuple[tuple[int, int], ...] = ()
    sun: tuple[tuple[int, int], ...] = ()
    holidays: frozenset[date] = frozenset()

    @field_validator(*WEEKDAYS, mode="before")
    @classmethod
    def _ranges(cls, value: Any) -> Any:
        if isinstance(value, tuple):
            return value
        return _parse_ranges(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use IANA names such as Europe/Moscow)"
            ) from exc
        return value

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.zone())
        if local.date() in self.holidays:
            return False
        ranges: tuple[tuple[int, int], ...] = getattr(self, WEEKDAYS[local.weekday()])
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in ranges)

    def next_open(self, after: datetime, *, days: int = 14) -> datetime | None:
        """`after` itself when the line is open then, else the next opening within
        `days` days (None when it stays closed that long)."""
        if self.is_open(after):
            return after
        zone = self.zone()
        local = after.astimezone(zone)
        for offset in range(days + 1):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            for start, _end in getattr(self, WEEKDAYS[day.weekday()]):
                opening = datetime.combine(day, time(0), zone) + timedelta(minutes=start)
                if opening > local:
                    return opening.astimezone(after.tzinfo)
        return None


class AfterHours(_Strict):
    """Where calls go outside the working hours."""

    action: Literal["queue", "dial", "goto"] = "queue"
    queue: str | None = None  # action=queue: this queue (default: the policy's queue)
    dial: str | None = None  # action=dial: a dialable interface (a duty phone)
    ring_seconds: Seconds = 30
    goto: str | None = None  # action=goto: "context,exten,priority" (voicemail, IVR …)

    _queue = field_validator("queue")(_queue_name)

    @field_validator("dial")
    @classmethod
    def _dial(cls, value: str | None) -> str | None:
        if value is not None and not is_dialable(value):
            raise ValueError(f"{value!r} is not a dialable interface such as PJSIP/200")
        return value

    @field_validator("goto")
    @classmethod
    def _goto(cls, value: str | None) -> str | None:
        if value is not None and not GOTO.fullmatch(value):
            raise ValueError(f'{value!r} is not "context,exten,priority"')
        return value

    @model_validator(mode="after")
    def _complete(self) -> AfterHours:
        if self.action == "dial" and not self.dial:
            raise ValueError('action "dial" needs dial = "TECH/resource"')
        if self.action == "goto" and not self.goto:
            raise ValueError('action "goto" needs goto = "context,exten,priority"')
        return self


class Policy(_Strict):
    """The effective rules for one call (defaults ← queue ← DID)."""

    queue: str = "support"
    prefer: tuple[Prefer, ...] = ("last-agent", "owner")
    lookback_days: float = Field(default=90.0, gt=0, le=36500)
    ring_seconds: Seconds = 20
    when_busy: Literal["queue", "wait"] = "queue"
    wait_seconds: Seconds = 30
    vip: Mapping[str, Annotated[int, Field(ge=1, le=1_000_000)]] = Field(default_factory=dict)
    hours: Hours | None = None  # None: always open
    after_hours: AfterHours = AfterHours()
    # Missed calls of known customers become callback tasks (crm.callbacks): for the
    # manager the call was routed to, else the owner, else this supervisor (a login).
    callback_tasks: bool = True
    callback_due_minutes: int = Field(default=30, ge=0, le=7 * 24 * 60)
    supervisor: str | None = None

    _queue = field_validator("queue")(_queue_name)
    _prefer = field_validator("prefer", mode="before")(_check_prefer)
    _vip = field_validator("vip")(_lower_tags)
    _supervisor = field_validator("supervisor")(_login)

    def priority_for(self, tags: frozenset[str]) -> int | None:
        if not tags or not self.vip:
            return None
        best = max((self.vip.get(tag.strip().lower(), 0) for tag in tags), default=0)
        return best or None


class PolicyOverride(_Strict):
    """The same keys as the defaults, each optional."""

    queue: str | None = None
    prefer: tuple[Prefer, ...] | None = None
    lookback_days: float | None = Field(default=None, gt=0, le=36500)
    ring_seconds: Seconds | None = None
    when_busy: Literal["queue", "wait"] | None = None
    wait_seconds: Seconds | None = None
    vip: Mapping[str, Annotated[int, Field(ge=1, le=1_000_000)]] | None = None
    hours: Hours | None = None
    after_hours: AfterHours | None = None
    callback_tasks: bool | None = None
    callback_due_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    supervisor: str | None = None

    _queue = field_validator("queue")(_queue_name)
    _prefer = field_validator("prefer", mode="before")(_check_prefer)
    _vip = field_validator("vip")(_lower_tags)
    _supervisor = field_validator("supervisor")(_login)

    def values(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if getattr(self, name) is not None
        }


class RulesFile(Policy):
    """The whole file: default policy keys at the top, `queues` and `dids` sections."""

    queues: dict[str, PolicyOverride] = Field(default_factory=dict)
    dids: dict[str, PolicyOverride] = Field(default_factory=dict)

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, value: dict[str, PolicyOverride]) -> dict[str, PolicyOverride]:
        for name, override in value.items():
            _queue_name(name)
            if override.queue is not None and override.queue != name:
                raise ValueError(f"[queues.{name}] cannot send calls to queue {override.queue!r}")
        return value


class RoutingRules:
    """Loaded rules: the effective :class:`Policy` for any DID, computed up front."""

    def __init__(
        self, file: RulesFile | None = None, *, region: str = "RU", source: str = "defaults"
    ) -> None:
        self.file = file or RulesFile()
        self.region = region
        self.source = source
        self.default = Policy(**_policy_values(self.file))
        self._by_queue: dict[str, Policy] = {
            name: _merge(self.default, override).model_copy(update={"queue": name})
            for name, override in self.file.queues.items()
        }
        self._by_did: dict[str, Policy] = {}
        for did, override in self.file.dids.items():
            queue = override.queue or self.default.queue
            base = self._by_queue.get(queue, self.default)
            self._by_did[self.did_key(did)] = _merge(base, override)
        self._line_default = self._by_queue.get(self.default.queue, self.default)
        self._seen: dict[str, Policy] = {}

    def did_key(self, did: str) -> str:
        return normalize(did, self.region) or did.strip()

    def for_did(self, did: str | None) -> Policy:
        """The policy of a called number in any spelling (remembered per spelling: a
        call center has few lines)."""
        if not did:
            return self._line_default
        policy = self._seen.get(did)
        if policy is None:
            policy = self._by_did.get(self.did_key(did), self._line_default)
            if len(self._seen) >= _SEEN_MAX:
                self._seen.clear()
            self._seen[did] = policy
        return policy

    def for_queue(self, queue: str) -> Policy:
        return self._by_queue.get(queue, self.default)

    def for_call(self, did: str | None, queue: str | None) -> Policy:
        """The rules of a finished call: its DID's when the DID has rules of its own,
        else those of the queue it ended up in, else the default line's."""
        if did:
            policy = self._by_did.get(self.did_key(did))
            if policy is not None:
                return policy
        if queue and queue in self._by_queue:
            return self._by_queue[queue]
        return self.for_did(None)

    @property
    def dids(self) -> Mapping[str, Policy]:
        return self._by_did

    @property
    def queues(self) -> Mapping[str, Policy]:
        return self._by_queue


def _policy_values(model: BaseModel) -> dict[str, Any]:
    return {name: getattr(model, name) for name in Policy.model_fields}


def _merge(base: Policy, override: PolicyOverride) -> Policy:
    return base.model_copy(update=override.values())


def parse_rules(
    data: Mapping[str, Any], *, region: str = "RU", source: str = "<rules>"
) -> RoutingRules:
    try:
        file = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise RulesError(f"routing rules {source}: " + "; ".join(_describe(exc))) from exc
    return RoutingRules(file, region=region, source=source)


def load_rules(path: Path | str | None, *, region: str = "RU") -> RoutingRules:
    """The rules in `path` (TOML, or JSON for a `.json` file); the defaults for None."""
    if path is None or str(path).strip() == "":
        return RoutingRules(region=region)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RulesError(f"routing rules file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"routing rules file {path} cannot be read: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(f"routing rules file {path} is not valid {_kind(path)}: {exc}") from exc
    if not isinstance(data, dict):
        raise RulesError(f"routing rules file {path}: the top level must be a table/object")
    return parse_rules(data, region=region, source=str(path))


def _kind(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "TOML"


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problems.append(f"{key}: unknown key")
        else:
            problems.append(f"{key}: {message} (got {error.get('input')!r})")
    return problems
