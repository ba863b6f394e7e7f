"""The file side of an import: its encoding and separator, its rows, and which field each
header names."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from crm.csv_cells import unescape_cell
from crm.csv_import.report import ImportFailed

FIELDS = ("name", "phone", "phone_unverified", "email", "company", "owner", "tags")
SYNONYMS = {
    "name": (
        "name",
        "full name",
        "fullname",
        "contact",
        "имя",
        "фио",
        "ф.и.о.",
        "контакт",
        "клиент",
    ),
    "phone": (
        "phone",
        "phones",
        "telephone",
        "mobile",
        "tel",
        "телефон",
        "телефоны",
        "тел",
        "тел.",
        "мобильный",
        "номер",
    ),
    "phone_unverified": ("phone_unverified",),
    "email": ("email", "e-mail", "emails", "mail", "почта", "эл. почта", "электронная почта"),
    "company": ("company", "organization", "organisation", "компания", "организация", "фирма"),
    "owner": ("owner", "manager", "responsible", "менеджер", "ответственный", "владелец"),
    "tags": ("tags", "tag", "labels", "теги", "метки", "тег"),
}
SAMPLE = 64 * 1024  # bytes read to detect the encoding


def parse_map(text: str | None) -> dict[str, str]:
    """`"Телефон=phone,ФИО=name"` → {"телефон": "phone", "фио": "name"} (headers folded)."""
    mapping: dict[str, str] = {}
    if not text:
        return mapping
    for part in text.split(","):
        if not part.strip():
            continue
        header, sep, target = part.partition("=")
        target = target.strip()
        if not sep or not header.strip() or not target:
            raise ImportFailed(f"--map: {part.strip()!r} is not HEADER=FIELD")
        if target not in FIELDS and not target.startswith("custom."):
            raise ImportFailed(
                f"--map: unknown field {target!r} (use {', '.join(FIELDS)} or custom.NAME)"
            )
        mapping[fold_header(header)] = target
    return mapping


def fold_header(header: str) -> str:
    return " ".join(header.strip().lstrip("\ufeff").casefold().split())


def column_targets(header: list[str], mapping: dict[str, str]) -> list[str]:
    """The field each column feeds: `--map` first, then `custom.X` headers, then the
    synonyms; any other column becomes a custom field named after its header."""
    lookup = {syn: target for target, names in SYNONYMS.items() for syn in names}
    targets = []
    for cell in header:
        key = fold_header(cell)
        if key in mapping:
            targets.append(mapping[key])
        elif key.startswith("custom."):
            targets.append("custom." + cell.strip()[len("custom.") :])
        elif key in lookup:
            targets.append(lookup[key])
        else:
            targets.append("custom." + cell.strip().lstrip("\ufeff"))
    return targets


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig, utf-8 or cp1251, from the first bytes of the file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # the sample cut a character in two
        # Valid two-byte Cyrillic UTF-8 sequences mean a UTF-8 file with a broken byte.
        if len(re.findall(rb"[\xd0\xd1][\x80-\xbf]", sample)) > 3:
            return "utf-8"
        return "cp1251"


def bad_encoding_line(path: Path, encoding: str) -> tuple[int, str]:
    """The first line of the file that does not decode, and why."""
    with path.open("rb") as handle:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return number, f"bytes {line[exc.start : exc.end]!r} are not {encoding}"
    return 0, "the file ends in the middle of a character"


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


class _Progress(io.RawIOBase):
    """Counts bytes read, for the progress bar."""

    def __init__(self, raw: BinaryIO, callback: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.callback = callback
        self.done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.done += n
        if self.callback is not None and n:
            self.callback(n)
        return n


class CsvSource:
    """The file's rows as (first line number, cells), the header first. Decoding is
    strict: a byte that is not `encoding` raises UnicodeDecodeError (see
    `bad_encoding_line`); broken quoting raises `ImportFailed` with the line."""

    def __init__(
        self, path: Path, encoding: str, progress: Callable[[int], None] | None = None
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.progress = progress
        self.delimiter = ","  # sniffed from the header line once `rows` starts

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        with self.path.open("rb") as raw:
            counted = io.BufferedReader(_Progress(raw, self.progress), buffer_size=256 * 1024)
            text = io.TextIOWrapper(counted, encoding=self.encoding, errors="strict", newline="")
            first = text.readline()
            self.delimiter = sniff_delimiter(first)
            reader = csv.reader(
                _chain_first(first, text),
                delimiter=self.delimiter,
                strict=True,
                skipinitialspace=False,
            )
            start = 1
            try:
                for cells in reader:
                    yield start, [unescape_cell(c) if c[:1] == "'" else c for c in cells]
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise ImportFailed(
                    f"line {max(start, reader.line_num)}: broken CSV ({exc}); nothing was imported"
                ) from exc


def _chain_first(first: str, rest: io.TextIOWrapper) -> Iterator[str]:
    yield first
    yield from rest
