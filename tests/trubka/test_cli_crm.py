"""The CRM commands end to end: `trubka user add`, `import/export contacts`, `seed`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from crm.database import Database
from trubka.cli import main


@pytest.fixture
def cli(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TRUBKA_DATABASE_URL", database_url)
    return CliRunner()


def test_user_add(cli: CliRunner) -> None:
    ok = cli.invoke(
        main,
        [
            "user",
            "add",
            "--role",
            "agent",
            "--name",
            "Иван Петров",
            "--login",
            "ivan",
            "--password",
            "long password",
            "--interface",
            "PJSIP/101",
            "--interface",
            "Local/101@agents/n",
            "--queue",
            "support",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "user ivan (agent) added" in ok.output and "Local/101@agents/n" in ok.output
    taken = cli.invoke(
        main,
        [
            "user",
            "add",
            "--role",
            "agent",
            "--name",
            "X",
            "--login",
            "IVAN",
            "--password",
            "long password",
        ],
    )
    assert taken.exit_code == 1 and "already taken" in taken.output
    short = cli.invoke(
        main,
        ["user", "add", "--role", "admin", "--name", "X", "--login", "x", "--password", "short"],
    )
    assert short.exit_code == 1 and "too short" in short.output
    role = cli.invoke(
        main,
        [
            "user",
            "add",
            "--role",
            "boss",
            "--name",
            "X",
            "--login",
            "x",
            "--password",
            "long password",
        ],
    )
    assert role.exit_code == 2


def test_import_export_and_seed(cli: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_bytes("ФИО;Телефон\nИван;8 916 123-45-67\nБез телефона;abc\n".encode("cp1251"))
    dry = cli.invoke(main, ["import", "contacts", str(source), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 contact(s) would be created" in dry.output and "1 rejected" in dry.output
    assert "nothing was written" in dry.output
    assert (tmp_path / "contacts.rejected.csv").exists()
    done = cli.invoke(main, ["import", "contacts", str(source), "--map", "ФИО=name,Телефон=phone"])
    assert done.exit_code == 0 and "1 contact(s) were created" in done.output
    broken = tmp_path / "broken.csv"
    broken.write_text('name,phone\n"unterminated,+79161112233\n', encoding="utf-8")
    failed = cli.invoke(main, ["import", "contacts", str(broken)])
    assert (
        failed.exit_code == 1
        and "line 2" in failed.output
        and "nothing was imported" in failed.output
    )
    bad_map = cli.invoke(main, ["import", "contacts", str(source), "--map", "ФИО"])
    assert bad_map.exit_code == 1 and "HEADER=FIELD" in bad_map.output
    out = tmp_path / "out.csv"
    exported = cli.invoke(main, ["export", "contacts", str(out)])
    assert exported.exit_code == 0 and "1 contact(s)" in exported.output
    assert "+79161234567" in out.read_text(encoding="utf-8-sig")
    seeded = cli.invoke(main, ["seed", "--contacts", "50", "--calls", "200", "--agents", "2"])
    assert seeded.exit_code == 0, seeded.output
    assert "seeded 5 companies, 50 contacts, 200 calls" in seeded.output
    assert "agents created: agent101, agent102" in seeded.output


def test_the_demo_keeps_one_form_key_beside_its_database(tmp_path: Path) -> None:
    from trubka.demo import demo_secret_key

    path = tmp_path / "var" / "demo-secret-key"
    first = demo_secret_key(path)
    assert len(first) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert demo_secret_key(path) == first  # the same after a restart
