"""Several Asterisk servers: the list of PBXes and how one PBX dials another's phones.

`TRUBKA_PBXES` lists the PBXes Trubka serves, either as JSON (a list of objects) or as
the path of a TOML file with one `[[pbx]]` table each::

    [[pbx]]
    name = "a"
    ami_host = "10.0.0.1"
    ami_secret = "…"
    recordings_spool = "/mnt/pbx-a/monitor"
    dial = "PJSIP/{exten}@trunk-a"      # how the OTHER PBXes reach a phone of this one

    [[pbx]]
    name = "b"
    ami_host = "10.0.0.2"
    dial = "Local/{exten}@to-pbx-b"
    dial_from = { a = "PJSIP/{exten}@trunk-b" }   # PBX a reaches b's phones this way
    asterisk_queue_log = "/mnt/pbx-b/log/queue_log"   # its books, for the backfill
    asterisk_cdr = "/mnt/pbx-b/log/cdr-csv/Master.csv"

Without it, the single `TRUBKA_AMI_*` settings make one PBX named ``default``. A
template's placeholders are ``{interface}`` (``PJSIP/201``), ``{tech}`` (``PJSIP``) and
``{exten}`` (``201``: the interface's resource up to any ``@`` or ``/``). Pure: parsing
and mapping, no I/O but reading the TOML file.
"""

from __future__ import annotations

import json
import re
import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kernel.call_record import DEFAULT_PBX
from telephony.books.cdr_table import CdrTable, CdrTableError, is_table_url

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# What an interface's parts may hold to be put into a dial string: a channel
# technology and an extension, nothing that changes the dial string's meaning.
SAFE_PART = re.compile(r"^[A-Za-z0-9_.+*#-]{1,64}$")
PLACEHOLDERS = frozenset({"interface", "tech", "exten"})
KEYS = frozenset(
    {
        "name",
        "ami_host",
        "ami_port",
        "ami_user",
        "ami_secret",
        "ami_md5_login",
        "recordings_spool",
        "dial",
        "dial_from",
        "asterisk_queue_log",
        "asterisk_cdr",
        "asterisk_cdr_timezone",
    }
)


class PbxListError(ValueError):
    """TRUBKA_PBXES is malformed; the message names the PBX and the field."""


@dataclass(frozen=True, slots=True)
class PbxConfig:
    """One Asterisk: its AMI login, its recordings spool, and how others dial its phones."""

    name: str = DEFAULT_PBX
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "trubka"
    ami_secret: str = ""
    ami_md5_login: bool = False
    recordings_spool: Path | None = None
    dial: str | None = None  # the template the other PBXes use; None: not reachable
    dial_from: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Its books, read to backfill the calls missed while Trubka was away (as
    # TRUBKA_ASTERISK_QUEUE_LOG, _CDR and _CDR_TIMEZONE are for the one PBX of TRUBKA_AMI_*)
    asterisk_queue_log: Path | None = None
    asterisk_cdr: Path | CdrTable | None = None
    asterisk_cdr_timezone: str = ""  # the zone of the CDR's times; empty: TRUBKA_TIMEZONE

    @property
    def has_books(self) -> bool:
        return self.asterisk_queue_log is not None or self.asterisk_cdr is not None

    def template_for(self, asking: str) -> str | None:
        """How PBX `asking` dials a phone of this PBX (None: it cannot)."""
        return self.dial_from.get(asking, self.dial)


def interface_parts(interface: str) -> tuple[str, str] | None:
    """`PJSIP/201` → ("PJSIP", "201"); `Local/201@from-queue/n` → ("Local", "201"); None
    when the interface is not TECH/RESOURCE or holds characters a dial string must not."""
    tech, sep, rest = interface.strip().partition("/")
    if not sep:
        return None
    exten = re.split(r"[@/]", rest, maxsplit=1)[0]
    if not SAFE_PART.match(tech) or not SAFE_PART.match(exten):
        return None
    return tech, exten


def render(template: str, interface: str) -> str | None:
    """The dial string for `interface` per `template`; None when it cannot be made safely."""
    parts = interface_parts(interface)
    if parts is None:
        return None
    tech, exten = parts
    return template.format(interface=f"{tech}/{exten}", tech=tech, exten=exten)


@dataclass(frozen=True, slots=True)
class PbxList:
    """The PBXes, the first one the primary (its live state serves the agent panel and
    the supervisors' actions); `dial_string` maps an interface across PBXes."""

    pbxes: tuple[PbxConfig, ...]

    def __post_init__(self) -> None:
        if not self.pbxes:
            raise PbxListError("TRUBKA_PBXES: name at least one PBX")

    @property
    def primary(self) -> PbxConfig:
        return self.pbxes[0]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pbxes)

    def get(self, name: str) -> PbxConfig | None:
        return next((p for p in self.pbxes if p.name == name), None)

    def dial_string(self, interface: str, *, on: str, asking: str) -> str | None:
        """What PBX `asking` dials to reach `interface`, a phone of PBX `on`: the
        interface itself on the same PBX, else `on`'s template for `asking`; None when
        `asking` cannot reach it (the call then goes to the queue)."""
        if on == asking:
            return interface
        target = self.get(on)
        template = target.template_for(asking) if target is not None else None
        return render(template, interface) if template else None


def parse_pbxes(text: str, base: Path | None = None) -> tuple[PbxConfig, ...]:
    """TRUBKA_PBXES: a JSON list (starts with `[`) or the path of a TOML file."""
    text = text.strip()
    if text.startswith("["):
        try:
            items: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PbxListError(f"not valid JSON ({exc.msg}, column {exc.colno})") from None
    else:
        path = Path(text)
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            with path.open("rb") as handle:
                document = tomllib.load(handle)
        except OSError as exc:
            raise PbxListError(f"cannot read {path}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise PbxListError(f"{path}: not valid TOML ({exc})") from None
        items = document.get("pbx")
    if not isinstance(items, list) or not items:
        raise PbxListError("expected a list of PBXes (JSON [{…}] or TOML [[pbx]] tables)")
    pbxes = tuple(_pbx(index, item) for index, item in enumerate(items))
    _check_names(pbxes)
    return pbxes


def _pbx(index: int, item: Any) -> PbxConfig:
    where = f"PBX #{index + 1}"
    if not isinstance(item, dict):
        raise PbxListError(f"{where}: expected an object with name, ami_host, …")
    name = item.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise PbxListError(
            f"{where}: name: letters, digits, '-' and '_', at most 64 (got {name!r})"
        )
    where = f"PBX {name!r}"
    unknown = set(item) - KEYS
    if unknown:
        raise PbxListError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    host = item.get("ami_host", "127.0.0.1")
    port = item.get("ami_port", 5038)
    if not isinstance(host, str) or not host.strip():
        raise PbxListError(f"{where}: ami_host: a host name or address")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise PbxListError(f"{where}: ami_port: a port number 1-65535 (got {port!r})")
    user = _text(where, item, "ami_user", "trubka")
    secret = _text(where, item, "ami_secret", "")
    md5 = item.get("ami_md5_login", False)
    if not isinstance(md5, bool):
        raise PbxListError(f"{where}: ami_md5_login: true or false")
    spool = item.get("recordings_spool")
    if spool is not None and (not isinstance(spool, str) or not spool.strip()):
        raise PbxListError(f"{where}: recordings_spool: a directory path")
    dial = item.get("dial")
    if dial is not None:
        dial = _template(where, "dial", dial)
    dial_from_raw = item.get("dial_from", {})
    if not isinstance(dial_from_raw, dict):
        raise PbxListError(f"{where}: dial_from: an object of PBX name to template")
    dial_from = {str(k): _template(where, f"dial_from.{k}", v) for k, v in dial_from_raw.items()}
    queue_log = _path(where, item, "asterisk_queue_log")
    cdr_text = item.get("asterisk_cdr")
    cdr: Path | CdrTable | None
    if isinstance(cdr_text, str) and is_table_url(cdr_text):
        try:
            cdr = CdrTable.parse(cdr_text)
        except CdrTableError as exc:
            raise PbxListError(f"{where}: asterisk_cdr: {exc}") from None
    else:
        cdr = _path(where, item, "asterisk_cdr")
    zone = _text(where, item, "asterisk_cdr_timezone", "").strip()
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PbxListError(
                f"{where}: asterisk_cdr_timezone: unknown time zone {zone!r} "
                "(use IANA names such as Europe/Moscow)"
            ) from None
    return PbxConfig(
        name=name,
        ami_host=host.strip(),
        ami_port=port,
        ami_user=user,
        ami_secret=secret,
        ami_md5_login=md5,
        recordings_spool=Path(spool) if spool else None,
        dial=dial,
        dial_from=MappingProxyType(dial_from),
        asterisk_queue_log=queue_log,
        asterisk_cdr=cdr,
        asterisk_cdr_timezone=zone,
    )


def _path(where: str, item: Mapping[str, Any], key: str) -> Path | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PbxListError(f"{where}: {key}: a file path")
    return Path(value.strip())


def _text(where: str, item: Mapping[str, Any], key: str, default: str) -> str:
    value = item.get(key, default)
    if not isinstance(value, str):
        raise PbxListError(f"{where}: {key}: a string")
    return value


def _template(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or "/" not in value:
        raise PbxListError(f"{where}: {key}: a dial string such as Local/{{exten}}@to-pbx-b")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise PbxListError(f"{where}: {key}: {exc}") from None
    unknown = names - PLACEHOLDERS
    if unknown or not names:
        raise PbxListError(
            f"{where}: {key}: use {{interface}}, {{tech}} or {{exten}} "
            f"(got {', '.join(sorted(unknown)) or 'none'})"
        )
    return value


def _check_names(pbxes: Iterable[PbxConfig]) -> None:
    seen: set[str] = set()
    for pbx in pbxes:
        if pbx.name in seen:
            raise PbxListError(f"PBX {pbx.name!r} is listed twice")
        seen.add(pbx.name)
    for pbx in pbxes:
        for asking in pbx.dial_from:
            if asking not in seen:
                raise PbxListError(f"PBX {pbx.name!r}: dial_from names unknown PBX {asking!r}")
