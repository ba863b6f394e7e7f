"""`trubka user add` writes the same audit entry as an admin adding a user in the browser."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from crm.database import Database
from supervisor.audit import AuditLog
from trubka.cli import main


def test_user_add_is_audited(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUBKA_DATABASE_URL", database_url)
    args = ["user", "add", "--role", "agent", "--name", "Ольга", "--login", "olga"]
    args += ["--password", "long password", "--interface", "PJSIP/105", "--queue", "sales"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output

    async def entries() -> dict[str, object]:
        check = Database(database_url)
        try:
            return await AuditLog(check).list(kind="admin")
        finally:
            await check.dispose()

    log = asyncio.run(entries())
    (entry,) = log["entries"]  # type: ignore[misc]
    assert entry["action"] == "user_create"
    assert entry["login"] == "cli" and entry["role"] == "admin"
    assert str(entry["user_name"]).startswith("command line")
    assert entry["before"] is None
    assert entry["after"]["login"] == "olga"
    assert entry["after"]["interfaces"] == ["PJSIP/105"]
    assert entry["after"]["queues"] == ["sales"]
    assert "password" not in entry["after"]
