"""The routing rules over HTTP (`/api/routing/…`): stored in the database with their
versions, checked before they are saved, in force for the next call without a restart,
and previewed with the router's own decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit_server import InProcess
from tests.telephony.kit_fake_asterisk import call, environment
from tests.web.test_route_api import E164, app_for
from trubka.app import build_app
from trubka.settings import load_settings

PASSWORD = "correct horse"

GOOD = """queue = "support"
prefer = ["last-agent", "owner"]

[dids."+74951112233"]
queue = "sales"
when_busy = "wait"
"""


async def signed_in(server: InProcess, role: str) -> httpx.AsyncClient:
    services = server.app.state.services
    login = f"{role}-user"
    if await services.crm.users.get_by_login(login) is None:
        await services.crm.users.create(
            login=login, name=role.title(), role=role, password=PASSWORD
        )
    client = server.client()
    answer = await client.post("/api/session", json={"login": login, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return client


async def test_rules_roundtrip_history_and_rollback(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        admin = await signed_in(server, "admin")
        start = (await admin.get("/api/routing/rules")).json()
        assert start["version"] == 0 and start["rules"] == {}
        saved = await admin.put("/api/routing/rules", json={"toml": GOOD, "version": 0})
        assert saved.status_code == 200, saved.text
        assert saved.json()["version"] == 1 and saved.json()["saved_by"] == "admin-user"
        assert saved.json()["rules"]["dids"]["+74951112233"] == {
            "queue": "sales",
            "when_busy": "wait",
        }
        assert saved.json()["toml"] == GOOD  # the text as written, comments and all
        as_json = {"queue": "support", "prefer": ["owner"], "vip": {"gold": 5}}
        second = await admin.put("/api/routing/rules", json={"rules": as_json})
        assert second.json()["version"] == 2
        assert (await admin.get("/api/routing/rules")).json()["rules"] == as_json
        assert 'prefer = ["owner"]' in second.json()["toml"]
        stale = await admin.put("/api/routing/rules", json={"toml": GOOD, "version": 1})
        assert stale.status_code == 409
        history = (await admin.get("/api/routing/rules/history")).json()["versions"]
        assert [v["version"] for v in history] == [2, 1]
        assert all(v["saved_by"] == "admin-user" and v["saved_at"] for v in history)
        back = await admin.post("/api/routing/rules/rollback", json={"version": 1})
        assert back.status_code == 200
        assert back.json()["version"] == 3 and back.json()["note"] == "rollback to version 1"
        assert back.json()["rules"] == saved.json()["rules"]
        assert server.app.state.services.router.rules.for_did("84951112233").queue == "sales"
        missing = await admin.post("/api/routing/rules/rollback", json={"version": 99})
        assert missing.status_code == 404
        audit = (await admin.get("/api/audit", params={"action": "routing_rules"})).json()
        assert [e["reason"] for e in audit["entries"]] == [
            "version 2 → 3",
            "version 1 → 2",
            "version 0 → 1",
        ]
        await admin.aclose()


@pytest.mark.parametrize(
    ("body", "field", "line"),
    [
        (
            {"rules": {"dids": {"+74951112233": {"when_busy": "later"}}}},
            "dids.+74951112233.when_busy",
            None,
        ),
        ({"rules": {"prefer": ["owner", "boss"]}}, "prefer[1]", None),
        (
            {"rules": {"dids": {"8 495 1112233": {"after_hours": {"action": "dial"}}}}},
            'dids["8 495 1112233"].after_hours',
            None,
        ),
        ({"toml": GOOD + '\n[hours]\nmon = "18:00-09:00"\n'}, "hours.mon", 9),
        ({"toml": GOOD + "colour = 'red'\n"}, "dids.+74951112233.colour", 7),
        ({"toml": 'queue = "support"\nprefer = [\n'}, None, 2),
    ],
)
async def test_a_bad_document_is_refused_naming_the_field_and_the_old_rules_stay(
    database_url: str, body: dict[str, Any], field: str | None, line: int | None
) -> None:
    async with InProcess(app_for(database_url)) as server:
        admin = await signed_in(server, "admin")
        assert (await admin.put("/api/routing/rules", json={"toml": GOOD})).status_code == 200
        router = server.app.state.services.router
        before = router.rules
        answer = await admin.put("/api/routing/rules", json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()
        assert error["code"] == "invalid_rules"
        assert error.get("field") == field
        assert error["line"] == line
        assert error["problems"][0]["field"] == field
        assert router.rules is before
        current = (await admin.get("/api/routing/rules")).json()
        assert current["version"] == 1 and current["toml"] == GOOD
        await admin.aclose()


async def test_preview_is_the_decision_of_api_route(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        supervisor = await signed_in(server, "supervisor")
        for caller, did in [
            ("8 916 123-45-67", "84951110000"),
            ("anonymous", ""),
            ("+79990000000", "1"),
        ]:
            routed = (
                await supervisor.get("/api/route", params={"caller": caller, "did": did})
            ).json()
            preview = await supervisor.post(
                "/api/routing/preview", json={"caller": caller, "did": did}
            )
            assert preview.status_code == 200, preview.text
            shown = preview.json()
            assert {key: shown[key] for key in routed} == routed
            assert shown["rules_version"] == 0
        ru = await supervisor.post(
            "/api/routing/preview",
            json={"caller": E164, "did": ""},
            headers={"Accept-Language": "ru"},
        )
        assert ru.json()["reason"] == "Ivanova: talked 2 days ago"  # as /api/route says it
        assert ru.json()["reason_text"].startswith("Ivanova: ")
        assert "дн" in ru.json()["reason_text"]  # "2 дня назад": in the user's language
        await supervisor.aclose()


async def test_preview_of_a_draft_and_at_another_time(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        admin = await signed_in(server, "admin")
        draft = "prefer = []\n"
        answer = await admin.post(
            "/api/routing/preview", json={"caller": E164, "did": "", "toml": draft}
        )
        assert answer.json()["routed_by"] == "queue" and answer.json()["rules_version"] is None
        hours = (
            '[hours]\ntimezone = "Europe/Moscow"\nmon = "09:00-18:00"\n'
            '[after_hours]\naction = "goto"\ngoto = "voicemail,s,1"\n'
        )
        monday_night = {"caller": E164, "did": "", "toml": hours, "at": "2026-12-07T23:30:00+03:00"}
        night = (await admin.post("/api/routing/preview", json=monday_night)).json()
        assert night["routed_by"] == "after-hours" and night["goto"] == "voicemail,s,1"
        day = (
            await admin.post(
                "/api/routing/preview", json={**monday_night, "at": "2026-12-07T10:00:00+03:00"}
            )
        ).json()
        assert day["routed_by"] == "previous-manager"
        bad = await admin.post(
            "/api/routing/preview", json={"caller": E164, "toml": "when_busy = 1\n"}
        )
        assert bad.status_code == 422 and bad.json()["line"] == 1
        # the router's own counters did not see the previews
        assert sum(server.app.state.services.router.stats.decisions.values()) == 0
        await admin.aclose()


async def test_a_saved_change_decides_the_next_fastagi_call_without_a_restart(
    database_url: str,
) -> None:
    app = app_for(database_url, agi_enabled=True)
    services = app.state.services
    async with InProcess(app) as server:
        admin = await signed_in(server, "admin")
        port = services.agi.bound_port
        before = await call(port, environment())
        assert before.variables["ROUTE_AGENT"] == "Local/102@agents/n"
        saved = await admin.put(
            "/api/routing/rules", json={"toml": 'prefer = []\nqueue = "vip-line"\n'}
        )
        assert saved.status_code == 200
        after = await call(port, environment())
        assert after.variables["ROUTE_AGENT"] == ""
        assert after.variables["ROUTE_QUEUE"] == "vip-line"
        await admin.aclose()


ROLES = [
    # (role, method, path, body, status)
    (None, "GET", "/api/routing/rules", None, 401),
    ("agent", "GET", "/api/routing/rules", None, 403),
    ("supervisor", "GET", "/api/routing/rules", None, 200),
    ("admin", "GET", "/api/routing/rules", None, 200),
    (None, "PUT", "/api/routing/rules", {"rules": {}}, 401),
    ("agent", "PUT", "/api/routing/rules", {"rules": {}}, 403),
    ("supervisor", "PUT", "/api/routing/rules", {"rules": {}}, 403),
    ("admin", "PUT", "/api/routing/rules", {"rules": {}}, 200),
    (None, "GET", "/api/routing/rules/history", None, 401),
    ("agent", "GET", "/api/routing/rules/history", None, 403),
    ("supervisor", "GET", "/api/routing/rules/history", None, 200),
    ("agent", "GET", "/api/routing/rules/history/1", None, 403),
    (None, "POST", "/api/routing/rules/rollback", {"version": 1}, 401),
    ("agent", "POST", "/api/routing/rules/rollback", {"version": 1}, 403),
    ("supervisor", "POST", "/api/routing/rules/rollback", {"version": 1}, 403),
    (None, "POST", "/api/routing/preview", {"caller": E164}, 401),
    ("agent", "POST", "/api/routing/preview", {"caller": E164}, 403),
    ("supervisor", "POST", "/api/routing/preview", {"caller": E164}, 200),
    ("admin", "POST", "/api/routing/preview", {"caller": E164}, 200),
]


@pytest.mark.parametrize(("role", "method", "path", "body", "status"), ROLES)
async def test_roles(
    database_url: str, role: str | None, method: str, path: str, body: Any, status: int
) -> None:
    async with InProcess(app_for(database_url)) as server:
        client = await signed_in(server, role) if role else server.client()
        answer = await client.request(method, path, json=body)
        assert answer.status_code == status, answer.text
        await client.aclose()


async def test_the_database_is_seeded_from_the_rules_file_once(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "routing.toml"
    path.write_text("# the file\n" + GOOD, encoding="utf-8")
    app = build_app(load_settings(database_url=database_url, routing_rules=path))
    async with InProcess(app) as server:
        admin = await signed_in(server, "admin")
        seeded = (await admin.get("/api/routing/rules")).json()
        assert seeded["version"] == 1 and seeded["saved_by"] == "trubka"
        assert seeded["toml"].startswith("# the file\n")
        assert seeded["note"] == "seeded from routing.toml"
        saved = await admin.put("/api/routing/rules", json={"rules": {"prefer": ["owner"]}})
        assert saved.status_code == 200
        await admin.aclose()
    # The next start keeps what was saved in the browser, not the file.
    app = build_app(load_settings(database_url=database_url, routing_rules=path))
    async with InProcess(app):
        rules = app.state.services.router.rules
        assert rules.for_did(None).prefer == ("owner",)
        assert app.state.services.rules_admin.current.version == 2
