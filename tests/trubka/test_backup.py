"""`trubka backup DIR` / `trubka restore DIR` on real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crm.database import sqlite_path, upgrade
from tests.kit_db import fresh_pg_database, in_thread
from trubka.cli import main

RECORDING = "2026/11/26/1795717766.1.mp3"


def trubka(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def count(url: str, table: str) -> int:
    path = sqlite_path(url)
    if path is not None:
        with sqlite3.connect(path) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    import asyncpg  # type: ignore[import-untyped]

    async def run() -> int:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
        finally:
            await conn.close()

    return in_thread(lambda: asyncio.run(run()))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings of an installation: a fresh database and a recordings folder."""
    recordings = tmp_path / "recordings"
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'trubka.db'}"
        yield {"TRUBKA_DATABASE_URL": url, "TRUBKA_RECORDINGS_DIR": str(recordings)}
        return
    with fresh_pg_database("trubka_b", migrate=False) as url:
        yield {"TRUBKA_DATABASE_URL": url, "TRUBKA_RECORDINGS_DIR": str(recordings)}


def populate(env: dict[str, str]) -> None:
    url = env["TRUBKA_DATABASE_URL"]
    in_thread(lambda: upgrade(url))
    assert trubka(env, "seed", "--contacts", "40", "--calls", "120").exit_code == 0
    audio = Path(env["TRUBKA_RECORDINGS_DIR"]) / RECORDING
    audio.parent.mkdir(parents=True)
    audio.write_bytes(b"ID3 recording bytes")


def test_backup_then_restore_brings_back_data_and_recordings(
    site: dict[str, str], tmp_path: Path
) -> None:
    url = site["TRUBKA_DATABASE_URL"]
    populate(site)
    contacts, calls = count(url, "contacts"), count(url, "calls")
    assert contacts == 40 and calls == 120

    folder = tmp_path / "backup-1"
    taken = trubka(site, "backup", str(folder))
    assert taken.exit_code == 0, taken.output
    assert "40 contacts" in taken.output and "1 recordings" in taken.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "trubka-backup/1"
    assert manifest["counts"]["contacts"] == 40 and manifest["counts"]["calls"] == 120
    assert manifest["migrations"] and manifest["recordings"] == {"files": 1, "bytes": 19}
    assert (folder / "recordings" / RECORDING).read_bytes() == b"ID3 recording bytes"

    # life goes on: a new user, the recording lost
    added = trubka(
        site, "user", "add", "--role", "agent", "--name", "Новый Агент",
        "--login", "newbie", "--password", "password123",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    users = count(url, "users")
    (Path(site["TRUBKA_RECORDINGS_DIR"]) / RECORDING).unlink()

    refused = CliRunner().invoke(main, ["restore", str(folder)], env=site)
    assert refused.exit_code == 1
    assert "holds data" in refused.output and "--force" in refused.output
    assert count(url, "users") == users  # nothing changed

    restored = trubka(site, "restore", str(folder), "--force")
    assert restored.exit_code == 0, restored.output
    assert count(url, "users") == users - 1
    assert (count(url, "contacts"), count(url, "calls")) == (contacts, calls)
    audio = Path(site["TRUBKA_RECORDINGS_DIR"]) / RECORDING
    assert audio.read_bytes() == b"ID3 recording bytes"

    # what was there before the restore was backed up first, not lost
    [safety] = tmp_path.glob("backup-1.before-restore-*")
    assert str(safety) in restored.output
    before = json.loads((safety / "manifest.json").read_text())
    assert before["counts"]["users"] == users
    assert trubka(site, "db", "upgrade").exit_code == 0


def test_bad_backups_are_refused_and_change_nothing(tmp_path: Path) -> None:
    site = {
        "TRUBKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'trubka.db'}",
        "TRUBKA_RECORDINGS_DIR": str(tmp_path / "recordings"),
    }
    populate(site)
    folder = tmp_path / "backup"
    assert trubka(site, "backup", str(folder)).exit_code == 0
    url = site["TRUBKA_DATABASE_URL"]
    database = sqlite_path(url)
    assert database is not None
    before = database.read_bytes()

    def refused(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env=site)
        assert result.exit_code == 1, result.output
        assert database.read_bytes() == before
        return result.output

    # into a folder that holds something
    assert "not an empty folder" in refused("backup", str(folder))
    # a damaged database file
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    with (damaged / "database.sqlite3").open("r+b") as handle:
        handle.seek(200)
        handle.write(b"\xff\xff")
    assert "does not match its checksum" in refused("restore", str(damaged), "--force")
    # an interrupted backup (no manifest), a folder that is not a backup, a damaged manifest
    (damaged / "manifest.json").unlink()
    assert "not a Trubka backup" in refused("restore", str(damaged), "--force")
    assert "not a folder" in refused("restore", str(tmp_path / "nowhere"), "--force")
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "manifest.json").write_text("{not json")
    assert "damaged" in refused("restore", str(broken), "--force")
    # a backup made by a newer Trubka
    newer = tmp_path / "newer"
    shutil.copytree(folder, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["migrations"].append("future_0099")
    (newer / "manifest.json").write_text(json.dumps(manifest))
    assert "newer Trubka" in refused("restore", str(newer), "--force")
    # a SQLite backup into PostgreSQL (the dialect is checked before anything else)
    other = dict(site, TRUBKA_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:9/none")
    result = CliRunner().invoke(main, ["restore", str(folder)], env=other)
    assert result.exit_code == 1 and "sqlite database" in result.output
    # refusals leave nothing behind: no safety copy, no staged database
    assert not list(tmp_path.glob("*.before-restore-*"))
    assert not list(tmp_path.glob("*.restoring"))


def test_restore_into_an_empty_installation(tmp_path: Path) -> None:
    source = {
        "TRUBKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a' / 'trubka.db'}",
        "TRUBKA_RECORDINGS_DIR": str(tmp_path / "a" / "recordings"),
    }
    populate(source)
    assert trubka(source, "backup", str(tmp_path / "backup")).exit_code == 0
    target = {
        "TRUBKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b' / 'trubka.db'}",
        "TRUBKA_RECORDINGS_DIR": str(tmp_path / "b" / "recordings"),
    }
    restored = trubka(target, "restore", str(tmp_path / "backup"))  # no --force: nothing to lose
    assert restored.exit_code == 0, restored.output
    assert count(target["TRUBKA_DATABASE_URL"], "contacts") == 40
    assert (tmp_path / "b" / "recordings" / RECORDING).exists()
    assert not list(tmp_path.glob("backup.before-restore-*"))


def test_restore_from_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = {
        "TRUBKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'trubka.db'}",
        "TRUBKA_RECORDINGS_DIR": str(tmp_path / "recordings"),
    }
    populate(site)
    assert trubka(site, "backup", str(tmp_path / "nightly")).exit_code == 0
    monkeypatch.chdir(tmp_path / "nightly")
    restored = trubka(site, "restore", ".", "--force")
    assert restored.exit_code == 0, restored.output
    [safety] = tmp_path.glob("nightly.before-restore-*")
    assert (safety / "manifest.json").exists()


def test_restore_of_a_backup_made_before_the_migrations_merged(tmp_path: Path) -> None:
    """A backup whose database is at the five feature branches' heads restores, and the
    restored database is upgraded onto the one line."""
    from crm.database import head_revision
    from tests.crm.test_migrations import OLD_ROWS, _at_old_heads, _before_the_merge

    old_url = f"sqlite+aiosqlite:///{tmp_path / 'old' / 'trubka.db'}"
    migrations = _before_the_merge(tmp_path)
    (tmp_path / "old").mkdir()
    in_thread(lambda: _at_old_heads(old_url, migrations))
    old = {"TRUBKA_DATABASE_URL": old_url, "TRUBKA_RECORDINGS_DIR": str(tmp_path / "old-rec")}
    assert trubka(old, "backup", str(tmp_path / "backup")).exit_code == 0
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["migrations"] == OLD_ROWS

    target = {
        "TRUBKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'new' / 'trubka.db'}",
        "TRUBKA_RECORDINGS_DIR": str(tmp_path / "new" / "recordings"),
    }
    restored = trubka(target, "restore", str(tmp_path / "backup"))
    assert restored.exit_code == 0, restored.output
    path = sqlite_path(target["TRUBKA_DATABASE_URL"])
    assert path is not None
    with sqlite3.connect(path) as conn:
        rows = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
    assert rows == [head_revision()]
    taken = trubka(target, "backup", str(tmp_path / "backup-2"))
    assert taken.exit_code == 0, taken.output
    manifest = json.loads((tmp_path / "backup-2" / "manifest.json").read_text())
    assert manifest["migrations"] == [head_revision()]
