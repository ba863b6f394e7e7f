"""The settings an admin edits in the browser: pause reasons, service-level targets and
recording retention per queue. One JSON value per key in ``admin_settings``; every change
is written to the audit log with the value before and after.

- ``pause_reasons``: the agents' pause menu (code, a label per language, productive or
  not, the longest pause before the supervisors are alerted). Nothing stored: the
  built-in list the caller passes as the seed;
- ``service_levels``: seconds per queue, over ``TRUBKA_QUEUE_SERVICE_LEVELS`` and
  Asterisk's ``servicelevel``; in force at once in the live view and the reports (the
  mapping the report config reads is updated in place);
- ``retention``: days per queue for recordings, over ``TRUBKA_RECORDINGS_RETENTION_QUEUES``
  (0 keeps them forever); in force for the next purge;
- ``legal_hold``: queues whose recordings are put on legal hold when their call ends;
- ``wrapup_codes``: the wrap-up form's dispositions (``supervisor.wrapup_codes``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime
from crm.errors import InvalidInput, NotFound
from supervisor.audit import Actor, AuditAction, AuditEntry, AuditLog
from supervisor.wrapup_codes import WrapupCodes

CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
QUEUE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
LANGUAGES = ("en", "ru")
PAUSE_REASONS = "pause_reasons"
SERVICE_LEVELS = "service_levels"
RETENTION = "retention"
LEGAL_HOLD = "legal_hold"


class AdminSettingRow(Base):
    __tablename__ = "admin_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    login: Mapped[str] = mapped_column(String(64))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Label = Annotated[str, Field(min_length=1, max_length=80)]


class PauseReason(_Strict):
    code: str = Field(description="sent to Asterisk as the QueuePause reason")
    labels: dict[str, Label] = Field(description="the label in each language (en, ru)")
    productive: bool = False
    max_minutes: int | None = Field(default=None, ge=1, le=24 * 60)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.strip().lower()
        if not CODE.fullmatch(value):
            raise ValueError("a code is lower-case letters, digits, '_', '.' or '-' (at most 40)")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        value = {lang: text.strip() for lang, text in value.items()}
        missing = [lang for lang in LANGUAGES if not value.get(lang)]
        if missing:
            raise ValueError("a label is needed in " + ", ".join(missing))
        unknown = sorted(set(value) - set(LANGUAGES))
        if unknown:
            raise ValueError("no such language: " + ", ".join(unknown))
        return value

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels["en"]


def _queue_days(value: Any, *, what: str, low: int, high: int) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what}: an object of queue → number", field=what)
    out: dict[str, int] = {}
    for queue, number in value.items():
        if not isinstance(queue, str) or not QUEUE.fullmatch(queue):
            raise InvalidInput(f"{queue!r} is not a queue name", field=f"{what}.{queue}")
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise InvalidInput(
                f"{what}.{queue}: a whole number from {low} to {high}", field=f"{what}.{queue}"
            )
        out[queue] = number
    return out


def _problem(exc: ValidationError, prefix: str) -> InvalidInput:
    error = exc.errors()[0]
    path = ".".join(str(p) for p in (prefix, *error["loc"]) if p != "")
    message = str(error["msg"]).removeprefix("Value error, ")
    return InvalidInput(f"{path}: {message}", field=path)


class AdminSettings:
    """The stored settings (cached), and where each takes effect."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        pause_seed: Callable[[], list[dict[str, Any]]] = list,
        service_levels: MutableMapping[str, int] | None = None,
        retention: MutableMapping[str, int] | None = None,
        hold_queues: set[str] | None = None,
        pause_limits: MutableMapping[str, int] | None = None,
        wrapup_seed: Callable[[], list[dict[str, Any]]] = list,
    ) -> None:
        self.db = db
        self.audit = audit
        self.pause_seed = pause_seed
        # The live mappings the reports and the purge read; seeded by the environment.
        self.service_levels_live = service_levels if service_levels is not None else {}
        self.retention_live = retention if retention is not None else {}
        self.hold_queues_live = hold_queues if hold_queues is not None else set()
        self.env_levels = dict(self.service_levels_live)
        self.env_retention = dict(self.retention_live)
        # The supervisor alerts' pause limits in seconds (supervisor.alerts): the
        # environment's, then each pause reason's own maximum set here.
        self.pause_limits_live = pause_limits if pause_limits is not None else {}
        self.env_pause_limits = dict(self.pause_limits_live)
        self._values: dict[str, Any] = {}
        self.wrapup_codes = WrapupCodes(db, self.stored, wrapup_seed, self._put_from)

    async def load(self) -> None:
        from sqlalchemy import select

        async with self.db.session() as session:
            rows = (await session.scalars(select(AdminSettingRow))).all()
        self._values = {row.key: row.value for row in rows}
        self._apply()

    def _apply(self) -> None:
        levels = {**self.env_levels, **self._values.get(SERVICE_LEVELS, {})}
        self.service_levels_live.clear()
        self.service_levels_live.update(levels)
        days = {**self.env_retention, **self._values.get(RETENTION, {})}
        self.retention_live.clear()
        self.retention_live.update(days)
        self.hold_queues_live.clear()
        self.hold_queues_live.update(self._values.get(LEGAL_HOLD, []))
        limits = dict(self.env_pause_limits)
        if self._values.get(PAUSE_REASONS) is not None:
            for reason in self.pause_reasons():
                if reason.max_minutes:
                    limits[reason.code] = reason.max_minutes * 60
        self.pause_limits_live.clear()
        self.pause_limits_live.update(limits)

    def stored(self, key: str) -> Any:
        """The value saved under `key` (None: never saved)."""
        return self._values.get(key)

    async def _put(self, key: str, value: Any, actor: Actor) -> None:
        before = self._values.get(key)
        if before is None and key == PAUSE_REASONS:
            before = self.pause_seed()
        await self._put_from(key, value, actor, before)

    async def _put_from(self, key: str, value: Any, actor: Actor, before: Any) -> None:
        async with self.db.transaction() as session:
            row = await session.get(AdminSettingRow, key)
            if row is None:
                row = AdminSettingRow(key=key)
                session.add(row)
            row.value = value
            row.updated_at = datetime.now(UTC)
            row.login = actor.login[:64]
        self._values[key] = value
        self._apply()
        detail = _diff(before, value)
        await self.audit.record(
            AuditEntry(AuditAction.ADMIN_SETTING, actor, reason=key, detail=detail[:500])
        )

    # --- pause reasons ---------------------------------------------------------------
    def pause_reasons(self) -> list[PauseReason]:
        stored = self._values.get(PAUSE_REASONS)
        data = stored if stored is not None else self.pause_seed()
        return [PauseReason.model_validate(item) for item in data]

    def pause_reason(self, code: str) -> PauseReason:
        for reason in self.pause_reasons():
            if reason.code == code:
                return reason
        raise NotFound(f"pause reason {code!r} not found")

    async def save_pause_reasons(self, reasons: list[PauseReason], actor: Actor) -> None:
        codes = [r.code for r in reasons]
        if len(set(codes)) != len(codes):
            raise InvalidInput("each pause reason needs its own code", field="code")
        await self._put(PAUSE_REASONS, [r.model_dump() for r in reasons], actor)

    def parse_pause_reason(self, data: Any) -> PauseReason:
        try:
            return PauseReason.model_validate(data)
        except ValidationError as exc:
            raise _problem(exc, "") from exc

    async def add_pause_reason(self, data: Any, actor: Actor) -> PauseReason:
        reason = self.parse_pause_reason(data)
        current = self.pause_reasons()
        if any(r.code == reason.code for r in current):
            raise InvalidInput(f"the pause reason {reason.code!r} exists already", field="code")
        await self.save_pause_reasons([*current, reason], actor)
        return reason

    async def update_pause_reason(self, code: str, data: Any, actor: Actor) -> PauseReason:
        self.pause_reason(code)
        reason = self.parse_pause_reason({**(data or {}), "code": code})
        await self.save_pause_reasons(
            [reason if r.code == code else r for r in self.pause_reasons()], actor
        )
        return reason

    async def delete_pause_reason(self, code: str, actor: Actor) -> None:
        self.pause_reason(code)
        await self.save_pause_reasons([r for r in self.pause_reasons() if r.code != code], actor)

    # --- service levels and retention per queue -----------------------------------------
    def service_levels(self) -> dict[str, int]:
        """The targets set here (seconds per queue), not the environment's."""
        return dict(self._values.get(SERVICE_LEVELS, {}))

    def retention(self) -> dict[str, int]:
        return dict(self._values.get(RETENTION, {}))

    async def save_service_levels(self, value: Any, actor: Actor) -> dict[str, int]:
        levels = _queue_days(value, what="service_levels", low=1, high=3600)
        await self._put(SERVICE_LEVELS, levels, actor)
        return levels

    def legal_hold(self) -> list[str]:
        """Queues whose new recordings are on legal hold from the start."""
        return list(self._values.get(LEGAL_HOLD, []))

    async def save_legal_hold(self, queues: Any, actor: Actor) -> list[str]:
        if not isinstance(queues, list) or not all(isinstance(q, str) for q in queues):
            raise InvalidInput("legal_hold: a list of queue names", field="legal_hold")
        for queue in queues:
            if not QUEUE.fullmatch(queue):
                raise InvalidInput(f"{queue!r} is not a queue name", field="legal_hold")
        chosen = sorted(set(queues))
        await self._put(LEGAL_HOLD, chosen, actor)
        return chosen

    async def save_retention(self, value: Any, actor: Actor) -> dict[str, int]:
        days = _queue_days(value, what="retention", low=0, high=36500)
        await self._put(RETENTION, days, actor)
        return days


def _short(value: Any) -> str:
    return "—" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _keyed(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(item.get("code")): item for item in value if isinstance(item, dict)}
    return {}


def _diff(before: Any, after: Any) -> str:
    """What changed, per queue or code: `sales: 20 → 15; vip: — → 0`."""
    old, new = _keyed(before), _keyed(after)
    parts = [
        f"{key}: {_short(old.get(key))} → {_short(new.get(key))}"
        for key in [*old, *(k for k in new if k not in old)]
        if old.get(key) != new.get(key)
    ]
    if (
        isinstance(before, list)
        and isinstance(after, list)
        and list(old) != list(new)
        and not parts
    ):
        parts.append("order: " + ", ".join(old) + " → " + ", ".join(new))
    return "; ".join(parts) or "no change"
