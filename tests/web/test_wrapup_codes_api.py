"""Wrap-up codes set by an admin over HTTP and on `/admin/wrapup-codes`: seeded from the
built-in seven, stored and audited (before → after), refused with the field named in the
user's language; the wrap-up API accepts exactly the active codes, the panel offers them
in the agent's language, the contact's timeline shows a stored code's label."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from crm.access import Actor
from crm.schemas import ContactCreate
from crm.wrapups import CallWrapup
from supervisor.wrapup_codes import MESSAGES
from tests.kit_server import InProcess
from tests.web.kit_admin_rules import user_cookie
from tests.web.test_admin_settings_api import app_for
from tests.web.test_routing_rules_api import signed_in
from tests.web.test_security_http import _record
from web.api.wrapup_codes import REFUSALS
from web.i18n import translations

NEW = {"code": "callback", "labels": {"en": "Call back later", "ru": "Перезвонить позже"}}


def panel_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="panel-config">(.*?)</script>', html)
    assert match, "no panel config on the page"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


async def test_wrapup_codes_crud_audit_and_refusals(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        admin = await signed_in(server, "admin")
        builtin = (await admin.get("/api/wrapup-codes")).json()["codes"]
        assert [c["code"] for c in builtin] == [
            "resolved",
            "follow_up",
            "sale",
            "information",
            "complaint",
            "wrong_number",
            "other",
        ]
        assert builtin[2]["label"] in builtin[2]["labels"].values()  # the user's language
        del builtin[2]["label"]
        assert builtin[2] == {
            "code": "sale",
            "labels": {"en": "Sale", "ru": translations("ru").gettext("Sale")},
            "success": True,
            "active": True,
        }
        assert builtin[2]["labels"]["ru"] != "Sale"
        assert not next(c for c in builtin if c["code"] == "wrong_number")["success"]
        added = await admin.post("/api/wrapup-codes", json={**NEW, "success": True})
        assert added.status_code == 201, added.text
        assert added.json()["active"] is True and added.json()["success"] is True
        again = await admin.post("/api/wrapup-codes", json=NEW)
        assert again.status_code == 422 and again.json()["field"] == "code"
        bad = await admin.post("/api/wrapup-codes", json={**NEW, "code": "Bad Code!"})
        assert bad.status_code == 422 and bad.json()["field"] == "code"
        no_ru = await admin.post(
            "/api/wrapup-codes",
            json={"code": "x", "labels": {"en": "X"}},
            headers={"accept-language": "ru"},
        )
        assert no_ru.status_code == 422 and no_ru.json()["field"] == "labels.ru"
        assert no_ru.json()["message"].startswith("Нужно название")  # the user's language
        flag = await admin.put("/api/wrapup-codes/sale", json={"success": "yes"})
        assert flag.status_code == 422 and flag.json()["field"] == "success"
        changed = await admin.put(
            "/api/wrapup-codes/other",
            json={"labels": {"en": "Something else", "ru": "Другое"}, "active": False},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["active"] is False
        assert changed.json()["labels"]["en"] == "Something else"
        assert (await admin.put("/api/wrapup-codes/nope", json={})).status_code == 404
        assert (await admin.delete("/api/wrapup-codes/complaint")).status_code == 204
        assert (await admin.delete("/api/wrapup-codes/complaint")).status_code == 404
        codes = (await admin.get("/api/wrapup-codes")).json()["codes"]
        assert [c["code"] for c in codes][-2:] == ["other", "callback"]
        assert "complaint" not in [c["code"] for c in codes]
        # Agents read the list, only admins change it.
        agent = await signed_in(server, "agent")
        assert (await agent.get("/api/wrapup-codes")).status_code == 200
        assert (await agent.post("/api/wrapup-codes", json=NEW)).status_code == 403
        assert (await agent.delete("/api/wrapup-codes/sale")).status_code == 403
        audit = (await admin.get("/api/audit", params={"action": "admin_setting"})).json()
        entries = [e for e in audit["entries"] if e["reason"] == "wrapup_codes"]
        assert len(entries) == 3 and entries[0]["login"] == "admin-user"
        assert entries[0]["detail"].startswith('complaint: {"active": true, "code": "complaint"')
        assert entries[0]["detail"].endswith("→ —")
        assert (
            entries[1]["detail"].startswith("other: {")
            and '"active": false' in entries[1]["detail"]
        )
        assert entries[2]["detail"].startswith('callback: — → {"active": true')
        await admin.aclose()
        await agent.aclose()
    # Kept over a restart.
    app = app_for(database_url)
    async with InProcess(app):
        codes = app.state.services.admin_settings.wrapup_codes
        assert [c.code for c in codes.active()][-1] == "callback"
        assert codes.get("other").active is False


async def test_the_wrapup_api_and_the_panel_follow_the_admins_codes(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        services = server.app.state.services
        admin = await signed_in(server, "admin")
        assert (await admin.post("/api/wrapup-codes", json=NEW)).status_code == 201
        assert (
            await admin.put("/api/wrapup-codes/complaint", json={"active": False})
        ).status_code == 200
        # A supervisor may wrap up any call: the new code is accepted, the inactive and an
        # unknown one are refused naming the field.
        boss = await signed_in(server, "supervisor")
        contact = await services.crm.contacts.create(
            ContactCreate(name="Клиент", phones=["+79165550009"]), Actor.system()
        )
        call = replace(_record("wc.1", "+79165550009", "PJSIP/101"), contact_id=contact["id"])
        await services.calls.save([call])
        ok = await boss.post(
            "/api/panel/wrapup",
            json={"linkedid": "wc.1", "disposition": "callback", "contact_id": contact["id"]},
        )
        assert ok.status_code == 201, ok.text
        assert ok.json()["disposition"] == "callback"
        for code in ("complaint", "no_such_code"):
            refused = await boss.post(
                "/api/panel/wrapup",
                json={"linkedid": "wc.2", "disposition": code},
                headers={"accept-language": "ru"},
            )
            assert refused.status_code == 422, code
            assert refused.json()["field"] == "disposition"
            assert refused.json()["message"] == "Выберите итог из списка: этот не предлагается."
        # Removing a code wrap-ups use only deactivates it; its label stays on the timeline.
        gone = await admin.delete("/api/wrapup-codes/callback")
        assert gone.status_code == 200 and gone.json()["active"] is False
        async with services.db.session() as session:
            stored = await session.get(CallWrapup, ok.json()["id"])
            assert stored is not None and stored.disposition == "callback"
        # The panel offers the admin's active codes in the agent's language.
        await admin.put("/api/wrapup-codes/callback", json={"active": True})
        cookie = await user_cookie(server, "agent", language="ru")
        async with server.client(cookies={"trubka_session": cookie}) as agent:
            config = panel_config((await agent.get("/")).text)
            offered = {d["key"]: d["label"] for d in config["dispositions"]}
            assert offered["callback"] == "Перезвонить позже"
            assert "complaint" not in offered
            assert offered["sale"] == translations("ru").gettext("Sale")
        await admin.put(
            "/api/wrapup-codes/callback",
            json={"labels": {"en": "Call back", "ru": "Перезвон"}, "active": False},
        )
        page = await admin.get(f"/contacts/{contact['id']}", headers={"accept": "text/html"})
        assert page.status_code == 200
        line = re.search(r'<div class="wrapup-line">(.*?)</div>', page.text, re.S)
        assert line and ">Перезвон<" in line.group(1)  # inactive: its label, not the code
        row = await services.calls.get("wc.1")
        assert row is not None
        call_page = await admin.get(f"/calls/{row.id}", headers={"accept": "text/html"})
        assert call_page.status_code == 200
        assert '<span class="badge wrapup" data-code="callback">Перезвон</span>' in call_page.text
        # A code no longer listed at all shows as the code itself.
        async with services.db.transaction() as session:
            stored = await session.get(CallWrapup, ok.json()["id"])
            assert stored is not None
            stored.disposition = "legacy_code"
        call_page = await admin.get(f"/calls/{row.id}", headers={"accept": "text/html"})
        assert 'data-code="legacy_code">legacy_code</span>' in call_page.text
        await admin.aclose()
        await boss.aclose()


async def test_the_admin_page_adds_changes_and_deactivates(database_url: str) -> None:
    async with InProcess(app_for(database_url)) as server:
        services = server.app.state.services
        codes = services.admin_settings.wrapup_codes
        cookie = await user_cookie(server, "admin", language="ru")
        async with server.client(cookies={"trubka_session": cookie}) as client:
            page = await client.get("/admin/wrapup-codes")
            assert page.status_code == 200
            assert "Коды итогов звонка" in page.text and 'data-code="wrong_number"' in page.text
            assert 'href="/admin/wrapup-codes"' in page.text  # in the admin navigation
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf
            token = csrf.group(1)
            expired = await client.post("/admin/wrapup-codes", data={"csrf_token": "x"})
            assert expired.status_code == 403
            form = {"code": "vip_lead", "label_en": "VIP lead", "label_ru": "VIP-лид"}
            added = await client.post(
                "/admin/wrapup-codes", data={**form, "success": "1", "csrf_token": token}
            )
            assert added.status_code == 303, added.text
            assert codes.get("vip_lead").success and codes.get("vip_lead").active
            twice = await client.post("/admin/wrapup-codes", data={**form, "csrf_token": token})
            assert twice.status_code == 422 and "Такой код итога уже есть." in twice.text
            off = await client.post(
                "/admin/wrapup-codes/sale",
                data={"label_en": "Sale", "label_ru": "Продажа!", "csrf_token": token},
            )
            assert off.status_code == 303
            assert not codes.get("sale").active and codes.get("sale").labels["ru"] == "Продажа!"
            removed = await client.post(
                "/admin/wrapup-codes/vip_lead", data={"delete": "1", "csrf_token": token}
            )
            assert removed.headers["location"] == "/admin/wrapup-codes?done=removed"
            assert "vip_lead" not in [c.code for c in codes.all()]
            shown = await client.get("/admin/wrapup-codes?done=removed")
            assert "Удалено." in shown.text
        supervisor = await user_cookie(server, "supervisor")
        async with server.client(cookies={"trubka_session": supervisor}) as client:
            assert (await client.get("/admin/wrapup-codes")).status_code == 403
            answer = await client.post("/admin/wrapup-codes/sale", data={"delete": "1"})
            assert answer.status_code == 403


def test_the_services_refusals_are_marked_for_the_catalogs() -> None:
    assert REFUSALS == MESSAGES
    ru = translations("ru").gettext
    assert all(ru(message) != message for message in MESSAGES)
