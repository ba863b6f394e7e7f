"""`trubka backup DIR` and `trubka restore DIR`: the database and the recordings, together.

A backup is a folder:

```
DIR/manifest.json        what is inside, written last (a folder without it is incomplete)
DIR/database.sqlite3     SQLite: a consistent copy (SQLite's online backup API; Trubka
                         may keep running while it is taken)
DIR/database.pgdump      PostgreSQL: `pg_dump --format=custom`
DIR/recordings/…         the processed recordings (`TRUBKA_RECORDINGS_DIR`), as stored
```

The manifest names the format, the database dialect, the migration revisions, the
database file's size and SHA-256, and the recordings' count and bytes. Restoring checks
all of it before it touches anything: a missing or damaged file, a backup of the other
dialect, or one made by a newer Trubka (unknown migrations) stops with a clear message
and nothing changes. A database that already holds data is only replaced with `force`,
and then a backup of it is taken first (a sibling folder `DIR.before-restore-…`), so a
restore never loses what was stored. Restored recordings are added to the recordings
folder (files already there with other names stay). Stop Trubka before restoring.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from crm.database import known_revisions, sqlite_path, upgrade

FORMAT = "trubka-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
RECORDINGS = "recordings"
COUNTED = ("contacts", "companies", "calls", "users", "tasks", "deals", "notes")
PG_TIMEOUT = 3600


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, nothing changed."""


@dataclass(frozen=True, slots=True)
class Summary:
    folder: Path
    manifest: dict[str, Any]
    safety_copy: Path | None = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dialect(url: str) -> str:
    return make_url(url).get_backend_name()


def _pg_command(url: str) -> tuple[list[str], dict[str, str]]:
    """libpq connection options for pg_dump/pg_restore; the password goes by environment,
    never on the command line (where `ps` shows it)."""
    parsed = make_url(url)
    args = ["--dbname", str(parsed.database or "")]
    if parsed.host:
        args += ["--host", str(parsed.host)]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", str(parsed.username)]
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def _run(tool: str, args: list[str], env: dict[str, str]) -> None:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(
            f"{tool} is not installed; it comes with PostgreSQL's client programs "
            "(Debian: apt install postgresql-client)"
        )
    try:
        done = subprocess.run(
            [path, *args], env=env, capture_output=True, text=True, timeout=PG_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{tool} did not finish in {PG_TIMEOUT} s") from exc
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{tool} failed: {' / '.join(reason[-3:]) or done.returncode}")


def _revisions_sqlite(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        try:
            return sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
        except sqlite3.DatabaseError:
            return []


def _counts_sqlite(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        for table in COUNTED:
            try:
                counts[table] = int(
                    conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                )  # fixed names
            except sqlite3.DatabaseError:
                counts[table] = 0
    return counts


async def _pg_facts(url: str) -> tuple[list[str], dict[str, int]]:
    from sqlalchemy import text

    from crm.database import Database

    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            revisions = sorted(
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars()
            )
            counts = {}
            for table in COUNTED:
                counts[table] = int(
                    (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                )
        return revisions, counts
    finally:
        await db.dispose()


def _facts(url: str) -> tuple[list[str], dict[str, int]]:
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            return [], dict.fromkeys(COUNTED, 0)
        return _revisions_sqlite(path), _counts_sqlite(path)
    import asyncio

    return asyncio.run(_pg_facts(url))


def _copy_tree(source: Path, target: Path) -> tuple[int, int]:
    """Copy every file under `source` into `target` (same relative paths), each through a
    temporary name, so an interrupted copy leaves no half file under a real name."""
    files = size = 0
    if not source.is_dir():
        return files, size
    for path in sorted(source.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.name.endswith(".partial"):
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = destination.with_name(destination.name + ".partial")
        shutil.copy2(path, temporary)
        os.replace(temporary, destination)
        files += 1
        size += path.stat().st_size
    return files, size


def backup(database_url: str, recordings_dir: Path, folder: Path) -> Summary:
    """Write a backup of the database and the recordings into `folder` (new or empty)."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} already exists and is not an empty folder; name a new one")
    dialect = _dialect(database_url)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path = sqlite_path(database_url)
        if path is not None:
            if not path.exists():
                raise BackupError(f"no database at {path} (TRUBKA_DATABASE_URL)")
            target = folder / SQLITE_FILE
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)  # a consistent snapshot, even while Trubka writes
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                copy.close()
                source.close()
            revisions, counts = _revisions_sqlite(target), _counts_sqlite(target)
        elif dialect == "postgresql":
            target = folder / PG_FILE
            revisions, counts = _facts(database_url)
            args, env = _pg_command(database_url)
            _run("pg_dump", ["--format=custom", "--no-owner", "--file", str(target), *args], env)
        else:
            raise BackupError(f"cannot back up a {dialect} database")
        files, size = _copy_tree(Path(recordings_dir), folder / RECORDINGS)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dialect": "sqlite" if path is not None else dialect,
            "migrations": revisions,
            "database": {
                "file": target.name,
                "bytes": target.stat().st_size,
                "sha256": _sha256(target),
            },
            "counts": counts,
            "recordings": {"files": files, "bytes": size},
        }
        written = folder / (MANIFEST + ".partial")
        written.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(written, folder / MANIFEST)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # no half backup that looks whole
        raise
    return Summary(folder, manifest)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The backup's manifest, checked against the files beside it (raises BackupError)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BackupError(f"{folder} is not a folder")
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(
            f"{folder} is not a Trubka backup (no {MANIFEST}; an interrupted backup has none)"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"{folder / MANIFEST} is damaged: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{folder / MANIFEST} is not a {FORMAT} manifest")
    database = manifest.get("database")
    if not isinstance(database, dict) or database.get("file") not in (SQLITE_FILE, PG_FILE):
        raise BackupError(f"{folder / MANIFEST} names no database file")
    data = folder / str(database["file"])
    if not data.is_file():
        raise BackupError(f"{data} is missing")
    if data.stat().st_size != database.get("bytes") or _sha256(data) != database.get("sha256"):
        raise BackupError(f"{data} does not match its checksum in the manifest: damaged")
    return manifest


def restore(
    database_url: str, recordings_dir: Path, folder: Path, *, force: bool = False
) -> Summary:
    """Replace the database with the backup's and add its recordings (see the module)."""
    folder = Path(folder).resolve()  # `trubka restore .` names its safety copy too
    manifest = read_manifest(folder)
    path = sqlite_path(database_url)
    dialect = "sqlite" if path is not None else _dialect(database_url)
    if manifest["dialect"] != dialect:
        raise BackupError(
            f"this is a backup of a {manifest['dialect']} database; "
            f"TRUBKA_DATABASE_URL names a {dialect} one"
        )
    unknown = set(manifest.get("migrations") or ()) - known_revisions()
    if unknown:
        raise BackupError(
            "the backup was made by a newer Trubka (unknown migrations: "
            f"{', '.join(sorted(unknown))}); upgrade Trubka first"
        )
    _, counts = _facts(database_url)
    stored = {table: n for table, n in counts.items() if n}
    safety: Path | None = None
    if stored:
        if not force:
            listed = ", ".join(f"{n} {table}" for table, n in stored.items())
            raise BackupError(
                f"the database holds data ({listed}); restoring replaces it. "
                "Add --force to go ahead (a backup of it is taken first)"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        safety = backup(
            database_url,
            recordings_dir,
            folder.with_name(f"{folder.name}.before-restore-{stamp}"),
        ).folder
    data = folder / str(manifest["database"]["file"])
    if path is not None:
        _restore_sqlite(data, path)
    else:
        args, env = _pg_command(database_url)
        _run(
            "pg_restore",
            ["--clean", "--if-exists", "--no-owner", "--single-transaction", *args, str(data)],
            env,
        )
    _copy_tree(folder / RECORDINGS, Path(recordings_dir))
    upgrade(database_url)  # a backup from an older Trubka gets this version's migrations
    return Summary(folder, manifest, safety)


def _restore_sqlite(data: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copy2(data, staged)
    with sqlite3.connect(staged) as conn:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        staged.unlink()
        raise BackupError(f"{data} fails SQLite's integrity check: {verdict}")
    for suffix in ("-wal", "-shm"):  # the old file's journal must not apply to the new one
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)
