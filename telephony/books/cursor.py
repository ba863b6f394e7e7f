"""How far a growing, rotated log file was read: its identity and a byte offset.

Asterisk appends to `queue_log` and `Master.csv`; logrotate moves them aside and a new
file starts. A cursor remembers the file's device and inode, the offset of the first
byte not yet read, and a fingerprint of its first bytes (an inode can be reused). Only
whole lines are returned: a line Asterisk is still writing is read next time.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

HEAD_BYTES = 256
MAX_READ = 64 * 1024 * 1024  # one call reads at most this much; the next goes on


@dataclass(frozen=True, slots=True)
class FileCursor:
    device: int = 0
    inode: int = 0
    offset: int = 0
    head: str = ""  # sha256 of the first HEAD_BYTES bytes, once the file had them

    def to_json(self) -> dict[str, int | str]:
        return {
            "device": self.device,
            "inode": self.inode,
            "offset": self.offset,
            "head": self.head,
        }

    @classmethod
    def from_json(cls, data: dict[str, int | str] | None) -> FileCursor:
        if not data:
            return cls()
        return cls(int(data["device"]), int(data["inode"]), int(data["offset"]), str(data["head"]))


def _head(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()


def read_new(path: Path, cursor: FileCursor) -> tuple[list[tuple[int, str]], FileCursor, bool]:
    """The whole lines appended since `cursor`, each with the offset it starts at, the
    cursor after them, and whether the file was replaced (rotated or truncated) since:
    then it is read from its start. Bytes that are not UTF-8 become U+FFFD."""
    stat = os.stat(path)
    # The fingerprint is taken once the file holds HEAD_BYTES (before, it still grows).
    head = _head(path) if stat.st_size >= HEAD_BYTES else ""
    same_file = (
        (stat.st_dev, stat.st_ino) == (cursor.device, cursor.inode)
        and stat.st_size >= cursor.offset
        and (not cursor.head or head == cursor.head)
    )
    rotated = bool(cursor.inode) and not same_file
    offset = cursor.offset if same_file else 0
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read(MAX_READ)
    end = data.rfind(b"\n") + 1
    lines: list[tuple[int, str]] = []
    start = 0
    while start < end:
        stop = data.index(b"\n", start)
        raw = data[start:stop].rstrip(b"\r")
        lines.append((offset + start, raw.decode("utf-8", errors="replace")))
        start = stop + 1
    return lines, FileCursor(stat.st_dev, stat.st_ino, offset + end, head), rotated


def read_new_lines(path: Path, cursor: FileCursor) -> tuple[list[str], FileCursor, bool]:
    """`read_new` without the offsets."""
    lines, after, rotated = read_new(path, cursor)
    return [line for _, line in lines], after, rotated
