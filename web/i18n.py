"""Russian and English for pages: gettext catalogs (Babel) and localized formats.

Catalogs live in `web/locale/<lang>/LC_MESSAGES/*.po` (`messages.po` and one file per
feature) and are compiled in memory at start-up (no stale `.mo` files). `make i18n`
extracts every string into `web/locale/messages.pot`; msgids are the English text, so
only Russian needs catalogs. A page's language is the signed-in user's preference, else the
`lang` cookie, else the browser's Accept-Language, else Russian.

Templates get `_` (gettext), `ngettext`, `lang` and `fmt` (a :class:`Formatter`:
dates, times, numbers, durations and phone numbers as people of that language write them).
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from dataclasses import dataclass
from datetime import UTC, tzinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from kernel.phones import format_national


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated when shown."""
    return message


LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
LANG_COOKIE = "lang"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """All catalogs of a language merged: `messages.po` plus one `.po` per feature
    (`panel.po`, `supervisor.po` …), so features add strings without touching each other."""
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    merged: gettext.NullTranslations | None = None
    for po in sorted(folder.glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = gettext.GNUTranslations(buffer)
        if merged is None:
            merged = loaded
        else:
            merged.add_fallback(loaded)
    return merged or gettext.NullTranslations()


def negotiate(preferred: str | None, cookie: str | None, accept_language: str | None) -> str:
    for choice in (preferred, cookie):
        if choice in LANGUAGES:
            return str(choice)
    if accept_language:
        weighted = []
        for part in accept_language.split(",")[:20]:
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            weighted.append((weight, tag.split("-")[0].strip().lower()))
        for _, tag in sorted(weighted, reverse=True):
            if tag in LANGUAGES:
                return tag
    return DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Formatter:
    lang: str
    region: str = "RU"
    zone: tzinfo = UTC

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    def _dt(self, value: dt.datetime | float | str | None) -> dt.datetime | None:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        elif isinstance(value, (int, float)):
            value = dt.datetime.fromtimestamp(value, UTC)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.zone)

    def datetime(self, value: dt.datetime | float | str | None) -> str:
        moment = self._dt(value)
        return format_datetime(moment, "short", locale=self.lang) if moment else ""

    def date(self, value: dt.datetime | float | str | None) -> str:
        moment = self._dt(value)
        return format_date(moment, "medium", locale=self.lang) if moment else ""

    def time(self, value: dt.datetime | float | str | None) -> str:
        moment = self._dt(value)
        return format_time(moment, "HH:mm:ss", locale=self.lang) if moment else ""

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return ""
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.lang)

    def duration(self, seconds: float | int | None) -> str:
        if seconds is None:
            return ""
        total = max(0, round(seconds))
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

    def phone(self, number: str | None) -> str:
        if not number:
            return ""
        return format_national(number, self.region) if number.startswith("+") else number


def formatter(lang: str, region: str = "RU", zone_name: str = "UTC") -> Formatter:
    try:
        zone: tzinfo = ZoneInfo(zone_name)
    except (KeyError, ValueError):
        zone = UTC
    return Formatter(lang, region, zone)
