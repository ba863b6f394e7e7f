"""`/api/admin/system`: the links, recordings, backups, the database's revision and the
version, for admins only; a backup taken from the browser with `trubka backup`'s engine;
failed recording jobs re-queued."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crm.database import head_revision
from tests.kit_server import InProcess
from tests.web.test_routing_rules_api import signed_in
from trubka.app import build_app
from trubka.settings import load_settings


def app_for(database_url: str, **settings: Any) -> Any:
    return build_app(load_settings(database_url=database_url, **settings))


async def test_system_info_and_a_backup_from_the_browser(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("pg_dump's backup is tested by the backup command's tests")
    folder = tmp_path / "backups"
    app = app_for(
        database_url,
        backup_dir=folder,
        recordings_dir=tmp_path / "recordings",
        agi_enabled=True,
        agi_port=0,
    )
    async with InProcess(app) as server:
        admin = await signed_in(server, "admin")
        info = (await admin.get("/api/admin/system")).json()
        assert info["database"] == {
            "dialect": "sqlite",
            "revision": head_revision(),
            "head": head_revision(),
            "up_to_date": True,
        }
        assert info["version"]
        assert info["agi"]["listening"] is True and info["agi"]["enabled"] is True
        assert info["ami"] is None  # TRUBKA_AMI_ENABLED is off in the tests
        assert info["recordings"]["free_bytes"] > 0
        assert info["recordings"]["jobs"]["failed"] == 0
        backups = {"configured": True, "folder": str(folder), "last": None, "count": 0}
        assert info["backups"] == backups
        taken = await admin.post("/api/admin/system/backup", json={})
        assert taken.status_code == 200, taken.text
        manifest = json.loads((Path(taken.json()["folder"]) / "manifest.json").read_text())
        assert manifest["migrations"] == [head_revision()]
        after = (await admin.get("/api/admin/system")).json()["backups"]
        assert after["count"] == 1 and after["last"]["folder"] == taken.json()["folder"]
        retried = await admin.post("/api/admin/system/recordings/retry", json={})
        assert retried.json() == {"retried": []}
        audit = (await admin.get("/api/audit", params={"action": "admin_setting"})).json()
        assert [e["reason"] for e in audit["entries"]] == ["recordings_retry", "backup"]
        await admin.aclose()


async def test_a_backup_without_a_folder_is_refused_with_the_reason(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        admin = await signed_in(server, "admin")
        answer = await admin.post("/api/admin/system/backup", json={})
        assert answer.status_code == 400
        assert "TRUBKA_BACKUP_DIR" in answer.json()["message"]
        await admin.aclose()


@pytest.mark.parametrize(
    ("role", "method", "path", "status"),
    [
        (None, "GET", "/api/admin/system", 401),
        ("agent", "GET", "/api/admin/system", 403),
        ("supervisor", "GET", "/api/admin/system", 403),
        ("admin", "GET", "/api/admin/system", 200),
        (None, "POST", "/api/admin/system/backup", 401),
        ("agent", "POST", "/api/admin/system/backup", 403),
        ("supervisor", "POST", "/api/admin/system/backup", 403),
        ("supervisor", "POST", "/api/admin/system/recordings/retry", 403),
        ("agent", "POST", "/api/admin/system/recordings/retry", 403),
        ("admin", "POST", "/api/admin/system/recordings/retry", 200),
    ],
)
async def test_roles(
    database_url: str, role: str | None, method: str, path: str, status: int
) -> None:
    async with InProcess(app_for(database_url)) as server:
        client = await signed_in(server, role) if role else server.client()
        answer = await client.request(method, path, json={} if method == "POST" else None)
        assert answer.status_code == status, answer.text
        await client.aclose()
