"""The local store: dated keys from the call, atomic writes, ranges, and a full disk."""

from __future__ import annotations

import errno
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest

from recordings.errors import StorageError, StorageFull, UnsafePath
from recordings.storage import LocalStorage, check_key, recording_key, safe_name


class FullDiskStorage(LocalStorage):
    """A local store on a disk with `capacity` bytes free: writes past it fail with ENOSPC,
    the way a real full filesystem answers."""

    def __init__(self, root: Path, capacity: int) -> None:
        super().__init__(root)
        self.capacity = capacity
        self.written = 0

    def _write(self, fh: BinaryIO, data: bytes) -> None:
        room = self.capacity - self.written
        if len(data) > room:
            fh.write(data[: max(room, 0)])
            self.written += max(room, 0)
            raise OSError(errno.ENOSPC, "No space left on device")
        fh.write(data)
        self.written += len(data)


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_keys_come_from_the_call_not_from_the_pbx() -> None:
    when = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)
    assert recording_key("1795717766.0", 17, when, "mp3") == "2026/11/26/1795717766.0-17.mp3"
    assert recording_key("../../etc/passwd", 3, when, "mp3") == "2026/11/26/etc_passwd-3.mp3"
    assert recording_key(None, 4, when, "opus") == "2026/11/26/orphan-4.opus"
    assert safe_name("c2c-0001-agent") == "c2c-0001-agent"
    assert safe_name("...") == "call"
    for bad in ["../x", "/abs", "a/../b", ".hidden/x", "a//b", "a/b\n"]:
        with pytest.raises(UnsafePath):
            check_key(bad)


def test_put_read_ranges_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    source = tmp_path / "src.bin"
    payload = bytes(range(256)) * 1000
    source.write_bytes(payload)
    stored = storage.put("2026/11/26/a-1.mp3", source)
    assert stored.size == len(payload)
    assert storage.stat("2026/11/26/a-1.mp3") == stored
    assert b"".join(storage.read("2026/11/26/a-1.mp3")) == payload
    assert b"".join(storage.read("2026/11/26/a-1.mp3", 100, 70_000)) == payload[100:70_000]
    assert b"".join(storage.read("2026/11/26/a-1.mp3", len(payload) - 1)) == payload[-1:]
    assert storage.stat("2026/11/26/other.mp3") is None
    assert storage.delete("2026/11/26/a-1.mp3")
    assert not storage.delete("2026/11/26/a-1.mp3")
    assert not (tmp_path / "store" / "2026").exists()  # empty dated folders go too
    with pytest.raises(StorageError):
        storage.read("2026/11/26/a-1.mp3")


def test_full_disk_leaves_no_partial_file(tmp_path: Path) -> None:
    storage = FullDiskStorage(tmp_path / "store", capacity=3 * 1024 * 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(b"\x55" * (5 * 1024 * 1024))
    with pytest.raises(StorageFull):
        storage.put("2026/11/26/a-1.mp3", source)
    assert storage.written == 3 * 1024 * 1024  # it really wrote until the disk was full
    assert all_files(tmp_path / "store") == []
    assert source.stat().st_size == 5 * 1024 * 1024


def test_an_older_version_survives_a_failed_replace(tmp_path: Path) -> None:
    storage = FullDiskStorage(tmp_path / "store", capacity=10)
    small = tmp_path / "small.bin"
    small.write_bytes(b"12345")
    storage.put("k/a.mp3", small)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 100)
    with pytest.raises(StorageFull):
        storage.put("k/a.mp3", big)
    assert b"".join(storage.read("k/a.mp3")) == b"12345"
    assert all_files(tmp_path / "store") == [tmp_path / "store" / "k" / "a.mp3"]


def test_recover_removes_what_a_crash_left(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    storage.incoming.mkdir(parents=True)
    (storage.incoming / "abc.part").write_bytes(b"half")
    assert storage.recover() == 1
    assert all_files(tmp_path / "store") == []


def test_other_write_errors_are_storage_errors(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / "2026").write_text("a file where a folder should be")
    storage = LocalStorage(root)
    source = tmp_path / "s.bin"
    source.write_bytes(b"x")
    with pytest.raises(StorageError) as caught:
        storage.put("2026/11/a.mp3", source)
    assert not isinstance(caught.value, StorageFull)
