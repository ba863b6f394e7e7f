"""Where processed recordings live: a small key/value interface and its local-filesystem store.

Keys look like ``2026/11/26/1795717766.0-17.mp3``: a dated folder (the call's UTC start
date) and a name made from the call's linkedid (sanitized) and the job id, never from a
file name the PBX sent. An S3-compatible store implements the same four operations
(``put`` as one upload, ``stat`` as HEAD, ``read`` as a ranged GET, ``delete``), so the
worker, the retention job and the web streaming code do not change.

Every method blocks: call them from a worker thread (Starlette runs the iterator that
``read`` returns in its thread pool).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from recordings.errors import StorageError, StorageFull, UnsafePath, is_no_space

CHUNK = 1 << 20
READ_CHUNK = 64 * 1024
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,7}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int


class RecordingStorage(Protocol):
    """A place to keep recording files by key (local folders, later S3)."""

    def put(self, key: str, source: Path) -> StoredObject:
        """Store a copy of `source` under `key`, all or nothing (replacing an older one).

        Raises StorageFull when the store is out of space, StorageError otherwise; in both
        cases nothing partial is left under `key`.
        """
        ...

    def stat(self, key: str) -> StoredObject | None:
        """The object's size, or None when there is no such key."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of the object (to its end when `end` is None).

        The iterator may have a ``close()`` (the web calls it when a client goes away
        mid-stream, so that files and connections are released at once)."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the object; False when it was not there."""
        ...

    def recover(self) -> int:
        """Remove partial writes a crash left behind; returns how many were removed."""
        ...

    def describe(self) -> str: ...


def check_key(key: str) -> str:
    """A key is folders and names of letters, digits, ``.``, ``_``, ``-``; no ``..``."""
    if len(key) > 512 or not _KEY.fullmatch(key) or any(p in {".", ".."} for p in key.split("/")):
        raise UnsafePath(f"invalid storage key {key!r}")
    return key


def safe_name(value: str, limit: int = 64) -> str:
    """A file-name-safe form of an identifier (a linkedid such as ``1795717766.0``)."""
    cleaned = _UNSAFE_CHARS.sub("_", value).strip("._-")[:limit]
    return cleaned or "call"


def recording_key(linkedid: str | None, job_id: int, when: datetime, extension: str) -> str:
    """``YYYY/MM/DD/<linkedid>-<job id>.<ext>``: unique per job, stable across retries."""
    day = when.astimezone(UTC)
    stem = f"{safe_name(linkedid)}-{job_id}" if linkedid else f"orphan-{job_id}"
    return check_key(f"{day:%Y/%m/%d}/{stem}.{safe_name(extension, 8)}")


class LocalStorage:
    """Recordings in dated folders under one root directory.

    A write goes to ``ROOT/.incoming/<random>.part``, is flushed and fsynced, then renamed
    into place (atomic on one filesystem) and the folder is fsynced: a crash or a full disk
    never leaves a half-written recording under a key. Leftover ``.part`` files from a
    crash are removed by :meth:`recover` at start-up.
    """

    INCOMING = ".incoming"

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.incoming = self.root / self.INCOMING

    def describe(self) -> str:
        return f"local:{self.root}"

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, source: Path) -> StoredObject:
        destination = self.path(key)
        part = self.incoming / f"{uuid.uuid4().hex}.part"
        try:
            self.incoming.mkdir(parents=True, exist_ok=True)
            destination.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            with source.open("rb") as src, part.open("xb") as dst:
                while chunk := src.read(CHUNK):
                    self._write(dst, chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(part, destination)
            _fsync_dir(destination.parent)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            if is_no_space(exc):
                raise StorageFull(f"no space left in {self.root} storing {key}") from exc
            raise StorageError(f"storing {key} in {self.root}: {exc.strerror or exc}") from exc
        return StoredObject(key, size)

    def _write(self, fh: BinaryIO, data: bytes) -> None:
        fh.write(data)

    def stat(self, key: str) -> StoredObject | None:
        try:
            return StoredObject(key, self.path(key).stat().st_size)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"reading {key}: {exc.strerror or exc}") from exc

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.path(key)
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise StorageError(f"reading {key}: {exc.strerror or exc}") from exc
        try:
            return RangeReader(fh, start, end)
        except OSError as exc:
            fh.close()
            raise StorageError(f"reading {key}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> bool:
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"deleting {key}: {exc.strerror or exc}") from exc
        # Empty dated folders go too (best effort: another writer may be filling them).
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return True

    def recover(self) -> int:
        removed = 0
        if not self.incoming.is_dir():
            return 0
        for part in self.incoming.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
                removed += 1
        return removed

    def copy_out(self, key: str, target: Path) -> None:
        """Copy an object to a local file (tests, exports)."""
        shutil.copyfile(self.path(key), target)


class RangeReader:
    """The bytes ``[start, end)`` of an open file, in chunks; closes the file when read to
    the end or when :meth:`close` is called (a client that stops listening mid-stream)."""

    def __init__(self, fh: BinaryIO, start: int, end: int | None) -> None:
        self.fh = fh
        fh.seek(start)
        self.remaining = None if end is None else max(end - start, 0)

    def __iter__(self) -> RangeReader:
        return self

    def __next__(self) -> bytes:
        if self.fh.closed:
            raise StopIteration
        if self.remaining is not None and self.remaining <= 0:
            self.close()
            raise StopIteration
        size = READ_CHUNK if self.remaining is None else min(READ_CHUNK, self.remaining)
        chunk = self.fh.read(size)
        if not chunk:
            self.close()
            raise StopIteration
        if self.remaining is not None:
            self.remaining -= len(chunk)
        return chunk

    def close(self) -> None:
        self.fh.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
