"""Pause reasons, service-level targets and recording retention set by an admin over HTTP:
stored, audited (before → after), used at once (the agent panel's pause menu, the live
view's thresholds, the next purge), refused with the field named when wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crm.database import Database
from supervisor.admin_settings import AdminSettingRow
from tests.kit_server import InProcess
from tests.web.test_routing_rules_api import signed_in
from trubka.app import build_app
from trubka.settings import load_settings


def app_for(database_url: str, **settings: Any) -> Any:
    return build_app(load_settings(database_url=database_url, **settings))


async def test_pause_reasons_crud_and_the_panel_menu(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        admin = await signed_in(server, "admin")
        builtin = (await admin.get("/api/pause-reasons")).json()["reasons"]
        assert [r["code"] for r in builtin] == [
            "lunch",
            "break",
            "training",
            "meeting",
            "paperwork",
        ]
        assert builtin[0]["labels"] == {"en": "Lunch", "ru": "Обед"}
        new = {
            "code": "coaching",
            "labels": {"en": "Coaching", "ru": "Наставничество"},
            "productive": True,
            "max_minutes": 30,
        }
        added = await admin.post("/api/pause-reasons", json=new)
        assert added.status_code == 201, added.text
        again = await admin.post("/api/pause-reasons", json=new)
        assert again.status_code == 422 and again.json()["field"] == "code"
        changed = await admin.put(
            "/api/pause-reasons/lunch",
            json={"labels": {"en": "Lunch break", "ru": "Обеденный перерыв"}, "max_minutes": 45},
        )
        assert changed.status_code == 200 and changed.json()["max_minutes"] == 45
        assert (await admin.delete("/api/pause-reasons/paperwork")).status_code == 204
        assert (await admin.delete("/api/pause-reasons/paperwork")).status_code == 404
        bad = await admin.post("/api/pause-reasons", json={"code": "Bad Code!", "labels": {}})
        assert bad.status_code == 422 and bad.json()["field"].startswith("code")
        no_ru = await admin.post("/api/pause-reasons", json={"code": "x", "labels": {"en": "X"}})
        assert no_ru.status_code == 422 and "ru" in no_ru.json()["message"]
        reasons = (await admin.get("/api/pause-reasons")).json()["reasons"]
        assert [r["code"] for r in reasons] == ["lunch", "break", "training", "meeting", "coaching"]
        # The agent's panel offers the admin's menu in the agent's language.
        agent = await signed_in(server, "agent")
        panel = (await agent.get("/")).text
        assert 'value="coaching">Наставничество<' in panel
        assert "Обеденный перерыв" in panel and 'value="paperwork"' not in panel
        assert (await agent.get("/api/pause-reasons")).status_code == 200
        assert (await agent.post("/api/pause-reasons", json=new)).status_code == 403
        audit = (await admin.get("/api/audit", params={"action": "admin_setting"})).json()
        assert len(audit["entries"]) == 3
        last = audit["entries"][0]
        assert last["reason"] == "pause_reasons" and last["login"] == "admin-user"
        assert last["detail"].startswith('paperwork: {"code": "paperwork"')
        assert last["detail"].endswith("→ —")
        assert audit["entries"][1]["detail"].startswith("lunch: {")
        await admin.aclose()
        await agent.aclose()


async def test_service_levels_and_retention_per_queue(database_url: str) -> None:
    app = app_for(
        database_url,
        queue_service_levels="support=20",
        recordings_retention_queues="support=90",
    )
    async with InProcess(app) as server:
        services = app.state.services
        admin = await signed_in(server, "admin")
        start = (await admin.get("/api/admin/settings")).json()
        assert {"queue": "support", "value": 20, "source": "setting"} in start["service_levels"]
        assert {"queue": "support", "value": 90, "source": "setting"} in start["retention"]
        levels = await admin.put(
            "/api/admin/settings/service-levels", json={"sales": 15, "support": 30}
        )
        assert levels.status_code == 200, levels.text
        assert {"queue": "sales", "value": 15, "source": "admin"} in levels.json()["service_levels"]
        assert services.supervisor.config.threshold("sales") == 15  # the live view's, at once
        assert services.supervisor.config.threshold("support") == 30
        kept = await admin.put("/api/admin/settings/retention", json={"sales": 365, "vip": 0})
        assert kept.status_code == 200
        assert services.recordings.retention.days_for("sales") == 365
        assert services.recordings.retention.days_for("support") == 90  # the environment's
        bad = await admin.put("/api/admin/settings/service-levels", json={"sales": 0})
        assert bad.status_code == 422 and bad.json()["field"] == "service_levels.sales"
        bad_queue = await admin.put("/api/admin/settings/retention", json={"a b": 1})
        assert bad_queue.status_code == 422
        assert services.supervisor.config.threshold("sales") == 15  # unchanged
        # Back to the environment's for support when the admin's target is removed.
        await admin.put("/api/admin/settings/service-levels", json={"sales": 15})
        assert services.supervisor.config.threshold("support") == 20
        await admin.aclose()
    # Kept over a restart.
    app = app_for(database_url, queue_service_levels="support=20")
    async with InProcess(app):
        assert app.state.services.supervisor.config.threshold("sales") == 15
        assert app.state.services.recordings.retention.days_for("sales") == 365


ROLES = [
    (None, "GET", "/api/pause-reasons", None, 401),
    ("agent", "GET", "/api/pause-reasons", None, 200),
    ("agent", "POST", "/api/pause-reasons", {"code": "x", "labels": {"en": "X", "ru": "Х"}}, 403),
    (
        "supervisor",
        "POST",
        "/api/pause-reasons",
        {"code": "x", "labels": {"en": "X", "ru": "Х"}},
        403,
    ),
    ("admin", "POST", "/api/pause-reasons", {"code": "x", "labels": {"en": "X", "ru": "Х"}}, 201),
    (None, "PUT", "/api/pause-reasons/lunch", {"labels": {"en": "L", "ru": "О"}}, 401),
    ("supervisor", "PUT", "/api/pause-reasons/lunch", {"labels": {"en": "L", "ru": "О"}}, 403),
    ("agent", "DELETE", "/api/pause-reasons/lunch", None, 403),
    ("supervisor", "DELETE", "/api/pause-reasons/lunch", None, 403),
    (None, "GET", "/api/admin/settings", None, 401),
    ("agent", "GET", "/api/admin/settings", None, 403),
    ("supervisor", "GET", "/api/admin/settings", None, 200),
    ("supervisor", "PUT", "/api/admin/settings/service-levels", {"a": 1}, 403),
    ("agent", "PUT", "/api/admin/settings/retention", {"a": 1}, 403),
    (None, "PUT", "/api/admin/settings/retention", {"a": 1}, 401),
    ("admin", "PUT", "/api/admin/settings/retention", {"a": 1}, 200),
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


async def test_a_queue_on_legal_hold_by_default_holds_its_new_recordings(
    database_url: str, tmp_path: Path
) -> None:
    from recordings.jobs import JobStore
    from tests.recordings.kit_app import RECORDED, recorded_app

    db = Database(database_url)
    async with db.transaction() as session:  # set before the app starts: the calls come at once
        session.add(
            AdminSettingRow(
                key="legal_hold", value=["support"], updated_at=datetime.now(UTC), login="admin"
            )
        )
    await db.dispose()
    async with recorded_app(database_url, tmp_path) as kit:
        jobs = await JobStore(kit.services.db).for_linkedids([RECORDED])
        job = jobs[RECORDED][0]
        assert job.legal_hold and job.hold_reason == "legal hold by default for queue support"
        assert kit.services.recordings.ingest.hold_queues == {"support"}
        async with kit.client("admin") as admin:
            answer = await admin.put("/api/admin/settings/legal-hold", json={"queues": ["vip"]})
            assert answer.status_code == 200 and answer.json()["legal_hold"] == ["vip"]
            bad = await admin.put("/api/admin/settings/legal-hold", json={"queues": ["a b"]})
            assert bad.status_code == 422
        assert kit.services.recordings.ingest.hold_queues == {"vip"}
        trail = await JobStore(kit.services.db).audit_log(job_id=job.id)
        assert any(a.action == "hold" and a.actor == "policy" for a in trail)


async def test_a_pause_reasons_limit_set_by_the_admin_is_the_alerts_limit(
    database_url: str,
) -> None:
    """Once the admin saves the pause reasons, each one's longest pause is the limit of the
    live view's long-pause alert, at once (until then, the environment's limits)."""
    app = app_for(database_url, pause_limits="break=600")
    async with InProcess(app) as server:
        alerts = app.state.services.supervisor.config.alerts
        assert alerts.pause_limit_for("break") == 600
        assert alerts.pause_limit_for("lunch") == alerts.pause_limit
        admin = await signed_in(server, "admin")
        changed = await admin.put(
            "/api/pause-reasons/lunch",
            json={"labels": {"en": "Lunch", "ru": "Обед"}, "max_minutes": 45},
        )
        assert changed.status_code == 200, changed.text
        assert alerts.pause_limit_for("lunch") == 45 * 60
        assert alerts.pause_limit_for("break") == 15 * 60  # the admin's list says 15 min
        assert alerts.pause_limit_for("training") == alerts.pause_limit  # no limit of its own
