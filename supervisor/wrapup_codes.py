"""The wrap-up codes (dispositions) an admin edits in the browser, stored under the
``wrapup_codes`` key of ``admin_settings`` (audited before → after, like the pause reasons).

A code is ``{code, labels: {en, ru}, success, active}``: the code is what a wrap-up stores
(``call_wrapups.disposition``), ``success`` says whether it counts as a successful
contact, an inactive code is no longer offered to agents but old wrap-ups keep showing its
label. Nothing stored: the built-in seven the caller passes as the seed.

Refusals carry fixed English messages (catalog entries, so the API answers them in the
user's language) and name the field.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select

from crm.database import Database
from crm.errors import InvalidInput, NotFound
from crm.wrapups import CallWrapup
from supervisor.audit import Actor

WRAPUP_CODES = "wrapup_codes"
LANGUAGES = ("en", "ru")
# call_wrapups.disposition is 24 characters wide.
CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,23}$")
LABEL_MAX = 80


def N_(message: str) -> str:
    """Marks a message for the catalogs (translated where it is shown, by the web layer)."""
    return message


BAD_CODE = N_("The code is lower-case Latin letters, digits, '_', '.' or '-', at most 24.")
BAD_LABEL = N_("A label is needed in English and in Russian, at most 80 characters.")
CODE_TAKEN = N_("This wrap-up code exists already.")
NOT_OFFERED = N_("Choose a result from the list: this one is not offered.")
UNKNOWN_CODE = N_("No such wrap-up code.")
BAD_FLAG = N_("Must be true or false.")
MESSAGES = (BAD_CODE, BAD_LABEL, CODE_TAKEN, NOT_OFFERED, UNKNOWN_CODE, BAD_FLAG)


class WrapupCode:
    __slots__ = ("active", "code", "labels", "success")

    def __init__(self, code: str, labels: dict[str, str], success: bool, active: bool) -> None:
        self.code = code
        self.labels = labels
        self.success = success
        self.active = active

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("en") or self.code

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "labels": dict(self.labels),
            "success": self.success,
            "active": self.active,
        }


def parse_code(value: Any) -> str:
    code = value.strip().lower() if isinstance(value, str) else ""
    if not CODE.fullmatch(code):
        raise InvalidInput(BAD_CODE, field="code")
    return code


def parse_labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - set(LANGUAGES):
        raise InvalidInput(BAD_LABEL, field="labels")
    labels: dict[str, str] = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        text = text.strip() if isinstance(text, str) else ""
        if not text or len(text) > LABEL_MAX:
            raise InvalidInput(BAD_LABEL, field=f"labels.{lang}")
        labels[lang] = text
    return labels


def parse_flag(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(BAD_FLAG, field=field)
    return value


def from_stored(item: dict[str, Any]) -> WrapupCode:
    return WrapupCode(
        str(item["code"]),
        {str(k): str(v) for k, v in dict(item.get("labels") or {}).items()},
        bool(item.get("success", False)),
        bool(item.get("active", True)),
    )


class WrapupCodes:
    """The list (cached in the admin settings) and its changes.

    `stored(key)` is the admin settings' cached value, `put(key, value, actor, before)`
    stores and audits a new one (`supervisor.admin_settings.AdminSettings`)."""

    def __init__(
        self,
        db: Database,
        stored: Callable[[str], Any],
        seed: Callable[[], list[dict[str, Any]]],
        put: Callable[[str, Any, Actor, Any], Awaitable[None]],
    ) -> None:
        self.db = db
        self.stored = stored
        self.seed = seed
        self._put = put

    def all(self) -> list[WrapupCode]:
        stored = self.stored(WRAPUP_CODES)
        return [from_stored(item) for item in (stored if stored is not None else self.seed())]

    def active(self) -> list[WrapupCode]:
        return [c for c in self.all() if c.active]

    def get(self, code: str) -> WrapupCode:
        for item in self.all():
            if item.code == code:
                return item
        raise NotFound(UNKNOWN_CODE, field="code")

    def labels(self, lang: str) -> dict[str, str]:
        """Every code's label in `lang`, the inactive ones too (old wrap-ups show them)."""
        return {c.code: c.label(lang) for c in self.all()}

    def check_offered(self, code: str) -> None:
        """Refuse a wrap-up's disposition that is not an active code."""
        if code not in {c.code for c in self.active()}:
            raise InvalidInput(NOT_OFFERED, field="disposition")

    async def _save(self, codes: list[WrapupCode], actor: Actor) -> None:
        before = self.stored(WRAPUP_CODES)
        await self._put(
            WRAPUP_CODES,
            [c.to_dict() for c in codes],
            actor,
            before if before is not None else self.seed(),
        )

    async def add(self, data: Any, actor: Actor) -> WrapupCode:
        data = data if isinstance(data, dict) else {}
        code = parse_code(data.get("code"))
        item = WrapupCode(
            code,
            parse_labels(data.get("labels")),
            parse_flag(data.get("success"), "success", False),
            parse_flag(data.get("active"), "active", True),
        )
        current = self.all()
        if any(c.code == code for c in current):
            raise InvalidInput(CODE_TAKEN, field="code")
        await self._save([*current, item], actor)
        return item

    async def update(self, code: str, data: Any, actor: Actor) -> WrapupCode:
        old = self.get(code)
        data = data if isinstance(data, dict) else {}
        item = WrapupCode(
            code,
            parse_labels(data.get("labels", old.labels)),
            parse_flag(data.get("success"), "success", old.success),
            parse_flag(data.get("active"), "active", old.active),
        )
        await self._save([item if c.code == code else c for c in self.all()], actor)
        return item

    async def delete(self, code: str, actor: Actor) -> bool:
        """Remove a code; one that wrap-ups use is only deactivated. True if removed."""
        old = self.get(code)
        async with self.db.session() as session:
            used = await session.scalar(
                select(func.count()).select_from(CallWrapup).where(CallWrapup.disposition == code)
            )
        if used:
            if old.active:
                old.active = False
                await self._save([old if c.code == code else c for c in self.all()], actor)
            return False
        await self._save([c for c in self.all() if c.code != code], actor)
        return True
