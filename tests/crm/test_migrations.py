"""The migrations form one line, and databases made before the line upgrade onto it."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

import crm.database
from crm.database import (
    MigrationBranchError,
    alembic_config,
    head_revision,
    known_revisions,
    upgrade,
)
from tests.kit_db import fresh_pg_database, in_thread

# The five heads of the feature branches of the first releases, applied with
# `upgrade heads` until the merge revision joined them, and the rows such a database holds
# in `alembic_version` (none for crm_0001: panel_0001 and route_0001 depended on it).
OLD_HEADS = ("crm_0001", "panel_0001", "rec_0001", "route_0003", "sup_0002")
OLD_ROWS = ["panel_0001", "rec_0001", "route_0003", "sup_0002"]
MERGE = "0002_merge_heads"
# How the revisions that now follow crm_0001 were released: branches from 0001_calls that
# depended on it.
AS_RELEASED = {
    "panel_0001": [('down_revision = "crm_0001"', 'down_revision = "0001_calls"')],
    "route_0001": [('down_revision = "crm_0001"', 'down_revision = "0001_calls"')],
}
DEPENDED_ON_CRM = ("panel_0001", "route_0001", "route_0002", "route_0003")


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def test_the_migrations_have_exactly_one_head() -> None:
    heads = script().get_heads()
    assert len(heads) == 1, (
        f"migrations fork into {sorted(heads)}: a new revision's down_revision must be "
        "the newest revision (docs/architecture.md, 'Migrations')"
    )
    assert head_revision() == heads[0]


def test_the_merge_revision_joins_the_old_heads() -> None:
    merge = script().get_revision(MERGE)
    assert merge is not None
    assert set(merge.down_revision or ()) == set(OLD_ROWS)
    # everything after the merge follows it: the merge is an ancestor of the head
    ancestors = {r.revision for r in script().iterate_revisions(head_revision(), "base")}
    assert MERGE in ancestors and set(OLD_HEADS) <= ancestors
    assert known_revisions() == ancestors


def test_a_second_branch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(crm.database.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "versions" / "zz_fork.py").write_text(
        'revision = "zz_fork"\n'
        'down_revision = "0001_calls"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\n"
        "def downgrade() -> None:\n    pass\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(crm.database, "MIGRATIONS_DIR", copy)
    with pytest.raises(MigrationBranchError, match="2 heads"):
        head_revision()
    database = tmp_path / "forked.db"
    with pytest.raises(MigrationBranchError):
        upgrade(f"sqlite+aiosqlite:///{database}")
    assert not database.exists()  # refused before anything was written


def _sqlite_state(path: Path) -> tuple[list[str], list[tuple[str, str, str]]]:
    with sqlite3.connect(path) as conn:
        versions = sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
        schema = sorted(
            conn.execute(
                "SELECT type, name, sql FROM sqlite_master"
                " WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        )
    return versions, schema


def _before_the_merge(tmp_path: Path) -> Path:
    """A copy of the migrations as they were released before the merge: the five branches."""
    before = {r for head in OLD_HEADS for r in script().iterate_revisions(head, "base")}
    copy = tmp_path / "migrations-before-the-merge"
    shutil.copytree(
        crm.database.MIGRATIONS_DIR,
        copy,
        ignore=shutil.ignore_patterns("__pycache__", "versions"),
    )
    (copy / "versions").mkdir()
    for revision in before:
        text = Path(revision.path).read_text(encoding="utf-8")
        for now, then in AS_RELEASED.get(revision.revision, []):
            assert now in text
            text = text.replace(now, then)
        if revision.revision in DEPENDED_ON_CRM:
            assert "depends_on = None" in text
            text = text.replace("depends_on = None", 'depends_on = "crm_0001"')
        (copy / "versions" / Path(revision.path).name).write_text(text, encoding="utf-8")
    released = ScriptDirectory(str(copy))
    assert set(released.get_heads()) == set(OLD_HEADS)
    return copy


def _at_old_heads(url: str, migrations: Path) -> None:
    """Migrate as Trubka did before the merge: `upgrade heads` over the five branches."""
    from alembic import command

    config = alembic_config(url)
    config.set_main_option("script_location", str(migrations))
    command.upgrade(config, "heads")


def test_a_sqlite_database_at_the_old_heads_upgrades_onto_the_line(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{old}"
    migrations = _before_the_merge(tmp_path)
    in_thread(lambda: _at_old_heads(url, migrations))
    versions, old_schema = _sqlite_state(old)
    assert versions == OLD_ROWS
    with sqlite3.connect(old) as conn:
        conn.execute(
            "INSERT INTO contacts (name, emails, custom, search_text, version, created_at,"
            " updated_at) VALUES ('Иван', '[]', '{}', 'иван', 1, '2026-11-26 09:00:00',"
            " '2026-11-26 09:00:00')"
        )

    in_thread(lambda: upgrade(url))

    versions, schema = _sqlite_state(old)
    assert versions == [head_revision()]
    new = tmp_path / "new.db"
    in_thread(lambda: upgrade(f"sqlite+aiosqlite:///{new}"))
    assert _sqlite_state(new) == (versions, schema)  # the same as a database made today
    if head_revision() == MERGE:
        assert schema == old_schema  # the merge itself changes nothing
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT name FROM contacts").fetchall() == [("Иван",)]


@pytest.mark.postgres
def test_a_postgres_database_at_the_old_heads_upgrades_onto_the_line(tmp_path: Path) -> None:
    import asyncio

    import asyncpg  # type: ignore[import-untyped]

    async def versions(url: str) -> list[str]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return sorted(await conn.fetchval("SELECT array_agg(version_num) FROM alembic_version"))
        finally:
            await conn.close()

    with fresh_pg_database("trubka_m", migrate=False) as url:
        migrations = _before_the_merge(tmp_path)
        in_thread(lambda: _at_old_heads(url, migrations))
        old = in_thread(lambda: asyncio.run(versions(url)))
        assert old == OLD_ROWS
        in_thread(lambda: upgrade(url))
        assert in_thread(lambda: asyncio.run(versions(url))) == [head_revision()]
