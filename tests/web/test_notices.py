"""`/api/notices`: a user sees and marks read only their own notices (404 for anyone
else's, a supervisor's and an admin's too); `unread=1` lists the unread ones with their
count; the panel page carries the notices' place and their words in Russian."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from crm.notices import Notice
from tests.web.conftest import Api


async def _notice(api: Api, user_id: int, text: str, minutes: int = 0) -> int:
    async with api.services.db.transaction() as session:
        row = Notice(
            user_id=user_id,
            text=text,
            rule_id=None,
            rule="VIP",
            event="call.missed",
            contact_id=None,
            created_at=datetime.now(UTC) - timedelta(minutes=minutes),
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_a_user_reads_only_their_own_notices(api: Api) -> None:
    other = await api.user("other", "agent")
    theirs = await _notice(api, other.id, "not yours")
    async with api.signed_in("boss", "supervisor") as (client, user):
        first = await _notice(api, user.id, "first <b>", minutes=2)
        second = await _notice(api, user.id, "second", minutes=1)

        page = (await client.get("/api/notices?unread=1")).json()
        assert [n["id"] for n in page["items"]] == [second, first]
        assert page["unread"] == 2
        assert page["items"][1]["text"] == "first <b>"
        assert page["items"][1]["read_at"] is None

        refused = await client.post(
            f"/api/notices/{theirs}/read", json={}, headers={"Accept-Language": "ru"}
        )
        assert refused.status_code == 404
        assert refused.json()["code"] == "not_found"
        assert refused.json()["message"] == "такого уведомления нет"
        assert (await client.post("/api/notices/999999/read", json={})).status_code == 404

        read = await client.post(f"/api/notices/{first}/read", json={})
        assert read.status_code == 200, read.text
        assert read.json()["read_at"] is not None
        again = await client.post(f"/api/notices/{first}/read", json={})
        assert again.json()["read_at"] == read.json()["read_at"]  # the first time is kept

        page = (await client.get("/api/notices", params={"unread": "1"})).json()
        assert ([n["id"] for n in page["items"]], page["unread"]) == ([second], 1)
        every = (await client.get("/api/notices")).json()
        assert [n["id"] for n in every["items"]] == [second, first]

        assert (await client.post("/api/notices/read-all", json={})).json() == {"read": 1}
        assert (await client.get("/api/notices?unread=1")).json() == {"items": [], "unread": 0}

    async with api.signed_in("admin", "admin") as (client, _admin):
        assert (await client.get("/api/notices")).json() == {"items": [], "unread": 0}
        assert (await client.post(f"/api/notices/{theirs}/read", json={})).status_code == 404
        assert (await client.post("/api/notices/read-all", json={})).json() == {"read": 0}
    async with api.client() as client:
        assert (await client.get("/api/notices")).status_code == 401
    async with api.services.db.session() as session:
        row = await session.get(Notice, theirs)
        assert row is not None and row.read_at is None  # the other user's stays unread


async def test_the_panel_has_the_notices_place_and_words(api: Api) -> None:
    async with api.signed_in("agent") as (client, _user):
        page = await client.get("/")
        assert 'id="notices"' in page.text
        match = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', page.text)
        assert match is not None
        words = json.loads(match.group(1))
        assert words["notice.title"] == "Уведомления"
        assert words["notice.read_all"] == "Прочитать все"
