"""The recordings over HTTP in the real app: who sees which call, the audio with ranges,
the player's data, legal holds, the audit of every play and download, the call page."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.recordings.kit_app import (
    CONTACT_NUMBER,
    CONTACTS,
    OTHERS,
    RECORDED,
    RecordedApp,
    recorded_app,
)


@pytest.fixture
async def kit(database_url: str, tmp_path: Path) -> RecordedApp:
    async with recorded_app(database_url, tmp_path) as app:
        yield app  # type: ignore[misc]


def stored_bytes(kit: RecordedApp, key: str) -> bytes:
    return (kit.store_dir / key).read_bytes()


async def test_call_list_and_details_follow_the_roles(kit: RecordedApp) -> None:
    everyone = {RECORDED, OTHERS, CONTACTS}
    seen: dict[str, set[str]] = {}
    for login in ("supervisor", "admin", "agent101", "agent102", "agent103"):
        async with kit.client(login) as http:
            reply = await http.get("/api/calls")
            assert reply.status_code == 200, reply.text
            seen[login] = {item["linkedid"] for item in reply.json()["items"]}
    assert seen["supervisor"] == seen["admin"] == everyone
    assert seen["agent101"] == {RECORDED, CONTACTS}  # their own, and a contact's call
    assert seen["agent102"] == {OTHERS, CONTACTS}
    assert seen["agent103"] == {CONTACTS}

    async with kit.client("agent101") as http:
        items = (await http.get("/api/calls")).json()["items"]
        assert [i["linkedid"] for i in items] == [CONTACTS, RECORDED]  # newest first
        recorded = items[1]
        assert recorded["recording"]["status"] == "done"
        assert recorded["recording"]["url"] == f"/api/calls/{kit.ids[RECORDED]}/recording"
        assert recorded["recording"]["duration_seconds"] == pytest.approx(11.98, abs=0.01)
        assert items[0]["recording"] is None and items[0]["contact_id"] is not None
        for key in ("linkedid", "direction", "caller_number", "caller_name", "called_number",
                    "queue", "agent_interface", "agent_name", "started_at", "answered_at",
                    "ended_at", "wait_seconds", "talk_seconds", "disposition", "routed_by",
                    "recording_file"):  # fmt: skip
            assert key in recorded, key
        detail = await http.get(f"/api/calls/{kit.ids[RECORDED]}")
        assert detail.status_code == 200
        assert [s["kind"] for s in detail.json()["timeline"]] == [
            "started",
            "queued",
            "answered",
            "ended",
        ]
        assert (await http.get(f"/api/calls/{kit.ids[OTHERS]}")).json()["code"] == "forbidden"
        assert (await http.get("/api/calls/999999")).status_code == 404
        by_number = await http.get("/api/calls", params={"number": "8 (495) 123-45-67"})
        assert [i["linkedid"] for i in by_number.json()["items"]] == [CONTACTS]
        paged = (await http.get("/api/calls", params={"limit": 1})).json()
        second = (await http.get("/api/calls", params={"limit": 1, "before": paged["next"]})).json()
        assert [i["linkedid"] for i in paged["items"] + second["items"]] == [CONTACTS, RECORDED]
        assert second["next"] is None
        bad = await http.get("/api/calls", params={"before": "nonsense"})
        assert bad.status_code == 422 and bad.json()["field"] == "before"
    async with kit.client("supervisor") as http:
        mine = await http.get("/api/calls", params={"disposition": "answered", "queue": "support"})
        assert len(mine.json()["items"]) == 3
        wrong = await http.get("/api/calls", params={"disposition": "maybe"})
        assert wrong.status_code == 422 and wrong.json()["field"] == "disposition"
    async with kit.client() as anonymous:
        assert (await anonymous.get("/api/calls")).status_code == 401
        paths = (await anonymous.get("/api/openapi.json")).json()["paths"]
        for path in ("/api/calls", "/api/calls/{call_id}", "/api/calls/{call_id}/recording",
                     "/api/calls/{call_id}/recording/player",
                     "/api/calls/{call_id}/recording/hold"):  # fmt: skip
            assert path in paths, path


async def test_the_audio_streams_with_ranges_to_those_allowed(kit: RecordedApp) -> None:
    call_id = kit.ids[RECORDED]
    url = f"/api/calls/{call_id}/recording"
    job = (await kit.services.recordings.store.list_jobs(linkedid=RECORDED))[0]
    assert job.storage_key is not None
    data = stored_bytes(kit, job.storage_key)
    size = len(data)
    async with kit.client() as anonymous:
        assert (await anonymous.get(url)).status_code == 401
    async with kit.client("agent102") as other:
        refused = await other.get(url)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert (await other.get(f"{url}/player")).status_code == 403
    async with kit.client("agent101") as http:
        whole = await http.get(url)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-type"] == "audio/mpeg"
        assert hashlib.sha256(whole.content).hexdigest() == job.sha256
        part = await http.get(url, headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{size}"
        tail = await http.get(url, headers={"Range": "bytes=-100"})
        assert tail.status_code == 206 and tail.content == data[-100:]
        past = await http.get(url, headers={"Range": f"bytes={size}-"})
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
        head = await http.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(size)
        download = await http.get(url, params={"download": "1"})
        assert download.status_code == 200 and download.content == data
        disposition = download.headers["content-disposition"]
        assert disposition == 'attachment; filename="call-2026-11-26_1829-1795717766.0.mp3"'
        not_recorded = await http.get(f"/api/calls/{kit.ids[CONTACTS]}/recording")
        assert not_recorded.status_code == 404
    # Every play and download is audited once: the first request, not the seeks or HEAD.
    audit = await kit.services.recordings.store.audit_log(job_id=job.id)
    actions = sorted((entry.action, entry.actor) for entry in audit)
    assert actions == [("downloaded", "agent101"), ("played", "agent101")]
    assert all("call " + str(call_id) in (entry.detail or "") for entry in audit)


async def test_the_player_data_and_the_legal_hold(kit: RecordedApp) -> None:
    call_id = kit.ids[RECORDED]
    async with kit.client("agent101") as agent:
        player = (await agent.get(f"/api/calls/{call_id}/recording/player")).json()
        assert player["status"] == "done" and player["can_manage"] is False
        assert player["url"] == f"/api/calls/{call_id}/recording"
        assert player["download_url"] == f"/api/calls/{call_id}/recording?download=1"
        assert player["media_type"] == "audio/mpeg" and "retention" not in player
        assert len(player["peaks"]) == 1 and len(player["peaks"][0]) == 500
        assert max(player["peaks"][0]) > 0.1 and all(0 <= p <= 1 for p in player["peaks"][0])
        refused = await agent.put(
            f"/api/calls/{call_id}/recording/hold", json={"hold": True, "reason": "case 7"}
        )
        assert refused.status_code == 403
        assert (await agent.get(f"/api/calls/{call_id}/recording/audit")).status_code == 403
        nothing = (await agent.get(f"/api/calls/{kit.ids[CONTACTS]}/recording/player")).json()
        assert nothing["status"] == "none" and nothing["url"] is None
    async with kit.client("supervisor") as sup:
        player = (await sup.get(f"/api/calls/{call_id}/recording/player")).json()
        retention = player["retention"]
        assert retention["days"] == 30 and retention["queue"] == "support"
        assert retention["kept_until"].startswith("2026-12-26")
        assert retention["legal_hold"] is False
        no_reason = await sup.put(f"/api/calls/{call_id}/recording/hold", json={"hold": True})
        assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
        form = await sup.put(
            f"/api/calls/{call_id}/recording/hold",
            content=b"hold=true",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 415  # API writes are JSON (CSRF)
        held = await sup.put(
            f"/api/calls/{call_id}/recording/hold",
            json={"hold": True, "reason": "претензия №7"},
        )
        assert held.status_code == 200, held.text
        assert held.json()["legal_hold"] is True and held.json()["hold_reason"] == "претензия №7"
        audit = (await sup.get(f"/api/calls/{call_id}/recording/audit")).json()["items"]
        assert [(a["action"], a["actor"], a["detail"]) for a in audit] == [
            ("hold", "supervisor", "претензия №7")
        ]
        policy = (await sup.get("/api/recordings/retention")).json()
        assert policy["queues"] == {"support": 30} and policy["default_days"] == 0
        assert (await sup.post("/api/recordings/purge", json={"dry_run": True})).status_code == 403
    async with kit.client("admin") as admin:
        dry = await admin.post("/api/recordings/purge", json={"dry_run": True})
        assert dry.status_code == 200 and dry.json()["dry_run"] is True
        released = await admin.put(f"/api/calls/{call_id}/recording/hold", json={"hold": False})
        assert released.json()["legal_hold"] is False and released.json()["hold_reason"] is None


async def test_the_contact_timeline_and_card_carry_the_recording(kit: RecordedApp) -> None:
    url = f"/api/calls/{kit.ids[RECORDED]}/recording"
    async with kit.client("supervisor") as sup:
        card = (await sup.get("/api/card", params={"number": "+79160000001"})).json()
        recorded = next(c for c in card["last_calls"] if c["linkedid"] == RECORDED)
        assert recorded["recording"]["status"] == "done" and recorded["recording"]["url"] == url
        # The caller becomes a contact: their past calls join the contact's history.
        made = await sup.post("/api/contacts", json={"name": "Иван", "phones": ["+79160000001"]})
        contact_id = made.json()["id"]
        page = (await sup.get(f"/api/contacts/{contact_id}/timeline")).json()
        calls = [item["call"] for item in page["items"] if item["kind"] == "call"]
        assert [c["recording"]["url"] for c in calls] == [url]
        card = (await sup.get(f"/api/contacts/{contact_id}/card", params={"timeline": 5})).json()
        assert card["last_calls"][0]["recording"]["status"] == "done"
        assert card["timeline"]["items"][0]["call"]["recording"]["url"] == url
    async with kit.client("agent102") as other:
        # Now a contact's call: every agent reads the contact, so every agent hears it.
        assert (await other.get(url, headers={"Range": "bytes=0-99"})).status_code == 206
    other_contacts = await kit.services.calls.get(CONTACTS)
    assert other_contacts is not None and other_contacts.caller_number == CONTACT_NUMBER


async def test_the_call_page(kit: RecordedApp) -> None:
    call_id = kit.ids[RECORDED]
    page = f"/calls/{call_id}"
    async with kit.client() as anonymous:
        reply = await anonymous.get(page)
        assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
    async with kit.client("agent102") as other:
        assert (await other.get(page)).status_code == 403
        assert (await other.get("/calls/999999")).status_code == 404
    async with kit.client("agent101") as agent:
        reply = await agent.get(page)  # the user's language: Russian
        assert reply.status_code == 200
        html = reply.text
        assert f'data-recording-call-id="{call_id}"' in html
        assert 'id="recording-player-i18n"' in html and "/static/js/recording-player.js" in html
        assert "Иван &lt;script&gt;" in html and "Иван <script>" not in html  # escaped
        assert "Вошёл в очередь" in html and "Запись" in html
        assert "Срок хранения" not in html  # retention is for supervisors
        assert (await agent.get("/api/recordings/player-strings")).json()["play"] == "Воспроизвести"
        await agent.post("/language", data={"lang": "en", "csrf_token": _csrf(html)})
        english = (await agent.get(page)).text
        assert "Entered the queue" in english and "Recording" in english
        assert (await agent.get("/api/recordings/player-strings")).json()["play"] == "Play"
        assert (await agent.get("/static/js/recording-player.js")).status_code == 200
    async with kit.client("supervisor") as sup:
        html = (await sup.get(page)).text
        assert "Срок хранения и юридическая блокировка" in html
        assert "Заблокировать удаление" in html and "Хранится до" in html
        token = _csrf(html)
        forged = await sup.post(f"{page}/hold", data={"hold": "1", "reason": "x"})
        assert forged.status_code == 403
        held = await sup.post(
            f"{page}/hold", data={"csrf_token": token, "hold": "1", "reason": "суд"}
        )
        assert held.status_code == 303 and "notice=held" in held.headers["location"]
        html = (await sup.get(page)).text
        assert "Юридическая блокировка" in html and "суд" in html and "Снять блокировку" in html
        assert "блокировка установлена" in html  # the audit trail
    async with kit.client("agent101") as agent:
        token = _csrf((await agent.get(page)).text)
        refused = await agent.post(
            f"{page}/hold", data={"csrf_token": token, "hold": "0", "reason": ""}
        )
        assert refused.status_code == 403
    job = (await kit.services.recordings.store.list_jobs(linkedid=RECORDED))[0]
    assert job.legal_hold is True and job.hold_reason == "суд"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)
