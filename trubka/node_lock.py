"""SQLite is one node: a second `trubka serve` on the same database file is refused.

The node that starts takes an exclusive `flock` on `<database>.node.lock` beside the
database file and keeps it while it runs; the kernel drops it when the process ends,
however it ends (`kill -9` included), so a stale lock never blocks a restart. A second
node finds the lock taken and stops with a message naming the file and the way to run
several nodes (PostgreSQL). Commands that only read or maintain the database
(`trubka calls`, `backup` …) do not take it. An in-memory database needs no lock.
"""

from __future__ import annotations

import fcntl
import os

from crm.database import sqlite_path


class NodeRefused(Exception):
    """Another node already runs on this SQLite database."""


class SqliteNodeLock:
    def __init__(self, database_url: str) -> None:
        path = sqlite_path(database_url)
        self.path = None if path is None else path.with_name(path.name + ".node.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self.path is None or self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read(fd)
            os.close(fd)
            database = self.path.with_name(self.path.name.removesuffix(".node.lock"))
            raise NodeRefused(
                f"another Trubka node ({other or 'unknown process'}) already runs on the "
                f"SQLite database {database} (lock file {self.path}); SQLite serves one "
                "node: stop the other one, or use PostgreSQL (TRUBKA_DATABASE_URL="
                "postgresql://…) to run several nodes"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
