"""The admin rules pages over HTTP: who may open and post what (anonymous → sign-in,
agent → the 403 page, supervisor → read-only where it makes sense), and the forms'
answers (saved, refused with the reason, the CSRF token required)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.kit_server import InProcess
from tests.web.kit_admin_rules import untranslated, user_cookie
from tests.web.test_route_api import E164, app_for

PAGES = ["/admin/routing", "/admin/pause-reasons", "/admin/settings", "/admin/system"]
# (page, role) → status; supervisors read the routing rules and the queue settings.
ACCESS = [
    (page, role, status)
    for page in PAGES
    for role, status in [
        ("agent", 403),
        ("supervisor", 200 if page in ("/admin/routing", "/admin/settings") else 403),
        ("admin", 200),
    ]
]
POSTS = [
    ("/admin/routing", {"toml": "prefer = []\n", "version": "0"}),
    ("/admin/routing/rollback", {"version": "1"}),
    ("/admin/routing/line", {"line": "", "queue": "x", "first": "", "version": "0"}),
    ("/admin/pause-reasons", {"code": "x", "label_en": "X", "label_ru": "Х"}),
    ("/admin/pause-reasons/lunch", {"delete": "1"}),
    ("/admin/settings", {"what": "retention", "values": "support=1"}),
    ("/admin/system", {"action": "retry"}),
]


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
async def test_who_may_open_each_page(database_url: str, role: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        cookie = await user_cookie(server, role)
        async with (
            server.client() as anonymous,
            server.client(cookies={"trubka_session": cookie}) as client,
        ):
            for path, who, status in ACCESS:
                if who != role:
                    continue
                answer = await anonymous.get(path)
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/login")
                answer = await client.get(path)
                assert answer.status_code == status, path
                assert answer.headers["content-type"].startswith("text/html")
                if status == 403:
                    assert "Not allowed" in answer.text
                if role == "supervisor" and status == 200:
                    assert 'method="post" action="/admin/routing"' not in answer.text
                    assert 'action="/admin/settings"' not in answer.text


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins_change_anything(database_url: str, role: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        cookie = await user_cookie(server, role)
        async with server.client(cookies={"trubka_session": cookie}) as client:
            page = await client.get("/")
            for path, form in POSTS:
                answer = await client.post(path, data={**form, "csrf_token": token(page.text)})
                assert answer.status_code == 403, path
        services = server.app.state.services
        assert services.rules_admin.current.version == 0
        assert len(services.admin_settings.pause_reasons()) == 5  # the built-in menu


async def test_the_forms_save_refuse_and_need_the_token(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        cookie = await user_cookie(server, "admin", language="ru")
        services = server.app.state.services
        async with server.client(cookies={"trubka_session": cookie}) as client:
            page = await client.get("/admin/routing")
            csrf = token(page.text)
            assert untranslated(page.text) == []
            expired = await client.post("/admin/routing", data={"toml": "", "csrf_token": "x"})
            assert expired.status_code == 403
            bad = await client.post(
                "/admin/routing",
                data={
                    "toml": 'queue = "support"\nring_seconds = 0\n',
                    "version": "0",
                    "csrf_token": csrf,
                },
            )
            assert bad.status_code == 422
            assert "Строка 2" in bad.text and "ring_seconds" in bad.text
            assert "ring_seconds = 0" in bad.text  # the text typed is shown again
            checked = await client.post(
                "/admin/routing",
                data={"toml": "prefer = []\n", "check_only": "1", "csrf_token": csrf},
            )
            assert checked.status_code == 200 and services.rules_admin.current.version == 0
            saved = await client.post(
                "/admin/routing", data={"toml": "prefer = []\n", "version": "0", "csrf_token": csrf}
            )
            assert (
                saved.status_code == 303 and saved.headers["location"] == "/admin/routing?saved=1"
            )
            stale = await client.post(
                "/admin/routing", data={"toml": "prefer = []\n", "version": "0", "csrf_token": csrf}
            )
            assert stale.status_code == 409
            line = await client.post(
                "/admin/routing/line",
                data={
                    "line": "",
                    "new_did": "+74951112233",
                    "queue": "sales",
                    "first": "owner",
                    "lookback_days": "30",
                    "ring_seconds": "15",
                    "when_busy": "wait",
                    "wait_seconds": "40",
                    "version": "1",
                    "csrf_token": csrf,
                },
            )
            assert line.status_code == 303, line.text
            assert services.rules_admin.current.document["dids"]["+74951112233"] == {
                "queue": "sales",
                "prefer": ["owner"],
                "lookback_days": 30,
                "ring_seconds": 15,
                "when_busy": "wait",
                "wait_seconds": 40,
            }
            assert services.rules_admin.current.note == "form: did:+74951112233"
            policy = services.router.rules.for_did("84951112233")
            assert policy.queue == "sales" and policy.wait_seconds == 40
            assert services.router.rules.for_did(None).prefer == ()  # the default kept
            wrong_line = await client.post(
                "/admin/routing/line",
                data={"line": "", "queue": "a b", "first": "", "lookback_days": "x",
                      "ring_seconds": "20", "when_busy": "queue", "wait_seconds": "30",
                      "version": "2", "csrf_token": csrf},
            )  # fmt: skip
            assert wrong_line.status_code == 422
            assert "lookback_days" in wrong_line.text and services.rules_admin.current.version == 2
            preview = await client.post(
                "/admin/routing/preview",
                data={
                    "caller": E164,
                    "did": "74951234567",
                    "at": "2026-12-07T10:00",
                    "csrf_token": csrf,
                },
            )
            assert 'data-routed-by="queue"' in preview.text
            assert "Звонок с" in preview.text and "очередь support" in preview.text
            back = await client.post(
                "/admin/routing/rollback", data={"version": "1", "csrf_token": csrf}
            )
            assert back.status_code == 303 and services.rules_admin.current.version == 3
            added = await client.post(
                "/admin/pause-reasons",
                data={
                    "code": "coaching",
                    "label_en": "Coaching",
                    "label_ru": "Наставник",
                    "productive": "1",
                    "max_minutes": "20",
                    "csrf_token": csrf,
                },
            )
            assert added.status_code == 303
            reason = services.admin_settings.pause_reason("coaching")
            assert reason.productive and reason.max_minutes == 20
            refused = await client.post(
                "/admin/pause-reasons",
                data={"code": "Bad!", "label_en": "B", "label_ru": "Б", "csrf_token": csrf},
            )
            assert refused.status_code == 422 and "Не сохранено" in refused.text
            levels = await client.post(
                "/admin/settings",
                data={"what": "service_levels", "values": "sales=15", "csrf_token": csrf},
            )
            assert levels.status_code == 303
            assert services.supervisor.config.threshold("sales") == 15
            settings_page = await client.get("/admin/settings")
            assert 'data-queue="sales"' in settings_page.text
            assert untranslated(settings_page.text) == []
            wrong = await client.post(
                "/admin/settings", data={"what": "retention", "values": "sales", "csrf_token": csrf}
            )
            assert wrong.status_code == 422
            held = await client.post(
                "/admin/settings",
                data={"what": "legal_hold", "values": "vip, complaints", "csrf_token": csrf},
            )
            assert held.status_code == 303
            assert services.recordings.ingest.hold_queues == {"vip", "complaints"}
            system = await client.get("/admin/system")
            assert system.status_code == 200 and untranslated(system.text) == []
            no_folder = await client.post(
                "/admin/system", data={"action": "backup", "csrf_token": csrf}
            )
            assert no_folder.status_code == 400 and "TRUBKA_BACKUP_DIR" in no_folder.text


async def test_a_backup_from_the_system_page(database_url: str, tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("pg_dump's backup is tested by the backup command's tests")
    app = app_for(database_url, backup_dir=tmp_path / "b", recordings_dir=tmp_path / "r")
    async with InProcess(app) as server:
        cookie = await user_cookie(server, "admin")
        async with server.client(cookies={"trubka_session": cookie}) as client:
            page = await client.get("/admin/system")
            assert "none yet" in page.text
            done = await client.post(
                "/admin/system", data={"action": "backup", "csrf_token": token(page.text)}
            )
            assert done.status_code == 303
            page = await client.get("/admin/system?done=backup")
        assert "The backup is written." in page.text
        assert str(tmp_path / "b" / "trubka-") in page.text
