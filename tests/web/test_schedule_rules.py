"""Schedule rules over `/api/rules` and `/admin/triggers`: a bad time is refused naming
the field in the admin's language; the page saves the schedule's fields."""

from __future__ import annotations

from tests.web.conftest import Api
from tests.web.test_triggers import admin, token

RULE = {
    "name": "overdue every morning",
    "event": "schedule.task_overdue",
    "schedule": {"at": "9:00"},
    "actions": [{"type": "create_task", "title": "Late: {{ task_title }}", "assignee": ["owner"]}],
}


async def test_a_bad_time_is_refused_naming_the_field(api: Api) -> None:
    async with admin(api, "boss") as client:
        refused = await client.post("/api/rules", json=RULE)
        assert refused.status_code == 422
        assert refused.json()["field"] == "schedule.at"
        assert refused.json()["message"] == "расписание, время: нужно время дня в виде ЧЧ:ММ"
        created = await client.post("/api/rules", json={**RULE, "schedule": {"at": "09:00"}})
        assert created.status_code == 201, created.text
        assert created.json()["schedule"] == {"at": "09:00", "weekdays_only": False}
        rule_id = created.json()["id"]
        days = await client.patch(
            f"/api/rules/{rule_id}",
            json={"event": "schedule.deal_idle", "schedule": {"at": "09:00", "days": 0}},
        )
        assert days.json()["field"] == "schedule.days"
        moved = await client.patch(f"/api/rules/{rule_id}", json={"event": "task.overdue"})
        assert moved.json()["schedule"] is None
    async with admin(api, "chief", language="en") as client:
        refused = await client.post("/api/rules", json=RULE)
        assert refused.json()["message"] == "schedule, time: a time of day is expected as HH:MM"


async def test_the_page_saves_a_schedule(api: Api) -> None:
    async with admin(api, "boss", language="en") as client:
        page = await client.get("/admin/triggers")
        assert 'name="schedule_at"' in page.text
        form = {
            "csrf_token": token(page.text),
            "name": "idle deals",
            "event": "schedule.deal_idle",
            "conditions": "[]",
            "actions": (
                '[{"type": "create_task", "title": "{{ deal_title }}", "assignee": ["owner"]}]'
            ),
            "enabled": "1",
            "schedule_at": "25:61",
            "schedule_days": "30",
            "schedule_weekdays": "1",
        }
        refused = await client.post("/admin/triggers", data=form)
        assert refused.status_code == 422
        assert "schedule, time: a time of day is expected as HH:MM" in refused.text
        assert 'value="25:61"' in refused.text
        saved = await client.post("/admin/triggers", data={**form, "schedule_at": "08:15"})
        assert saved.status_code == 303
        rules = (await client.get("/api/rules")).json()["items"]
        assert rules[-1]["schedule"] == {"at": "08:15", "weekdays_only": True, "days": 30}
        listed = await client.get("/admin/triggers")
        assert "at 08:15, Monday to Friday, 30 days" in listed.text
        page = await client.get(saved.headers["location"])
        assert 'value="08:15"' in page.text and 'value="30"' in page.text
