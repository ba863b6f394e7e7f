"""The sales forecast: exact figures on a small dataset (stage probabilities, set and
default; months; owners; the closed-won history), the CSV safe against formulas, who may
read it, and the page with its chart."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from crm.deals import PipelineService
from crm.forecast import default_probabilities
from crm.models import Deal, Stage, StageKind
from tests.web.conftest import Api

HOSTILE = '=HYPERLINK("http://evil.example/?x";"click")'


def month_after(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


async def dataset(api: Api) -> dict[str, Any]:
    """Two owners, four open deals, three won (one too old), one lost."""
    anna = await api.user("anna", "agent")
    boris = await api.crm.users.create(
        login="boris", name=HOSTILE, role="agent", password="correct horse"
    )
    async with api.services.db.transaction() as session:
        pipeline = await PipelineService(api.services.db).ensure_default(session)
    pipelines = (await api.crm.pipelines.list())[0]
    stages = {s["name"]: s["id"] for s in pipelines["stages"]}
    today = datetime.now(ZoneInfo("Europe/Moscow")).date()
    next1, next2 = month_after(today, 1), month_after(today, 2)
    return {
        "anna": anna,
        "boris": boris,
        "pipeline": pipeline.id,
        "pipeline_view": pipelines,
        "stages": stages,
        "today": today,
        "m1": next1,
        "m2": next2,
    }


async def test_the_forecast_figures_are_exact(api: Api) -> None:
    d = await dataset(api)
    s, anna, boris = d["stages"], d["anna"], d["boris"]
    async with api.signed_in("boss", "admin") as (admin, _):
        # the admin sets "Переговоры" to 90 %; the other open stages keep 20/40/60
        view = d["pipeline_view"]
        changed = await admin.patch(
            f"/api/pipelines/{view['id']}",
            json={
                "version": view["version"],
                "stages": [
                    {"id": st["id"], "name": st["name"], "kind": st["kind"]}
                    | ({"probability": 90} if st["name"] == "Переговоры" else {})
                    for st in view["stages"]
                ],
            },
        )
        assert changed.status_code == 200, changed.text
        assert [st["probability"] for st in changed.json()["stages"]] == [
            None, None, None, 90, None, None
        ]  # fmt: skip
        m1, m2 = d["m1"], d["m2"]
        deals = [
            ("Рояль", "Новая", "1000.00", anna.id, m1.replace(day=15)),
            ("Скрипка", "Переговоры", "333.33", anna.id, m1.replace(day=28)),
            ("Флейта", "Предложение", "10.01", boris.id, m2),
            ("Барабан", "Квалификация", None, boris.id, None),
            ("Арфа", "Успешно", "500.00", anna.id, None),
            ("Виолончель", "Успешно", "250.00", boris.id, None),
            ("Туба", "Успешно", "7777.00", boris.id, None),
            ("Гобой", "Отказ", "999.00", anna.id, m1),
        ]
        ids = {}
        for title, stage, amount, owner, expected in deals:
            made = await admin.post(
                "/api/deals",
                json={
                    "title": title,
                    "stage_id": s[stage],
                    "amount": amount,
                    "owner_id": owner,
                    "expected_close_on": expected.isoformat() if expected else None,
                },
            )
            assert made.status_code == 201, made.text
            ids[title] = made.json()["id"]
        assert made.json()["expected_close_on"] == m1.isoformat()
        now = datetime.now(UTC)
        three_back = month_after(d["today"], -3).replace(day=10)
        async with api.services.db.transaction() as session:
            await session.execute(
                update(Deal)
                .where(Deal.id == ids["Виолончель"])
                .values(closed_at=datetime(three_back.year, three_back.month, 10, 12, tzinfo=UTC))
            )
            await session.execute(
                update(Deal)
                .where(Deal.id == ids["Туба"])
                .values(closed_at=now - timedelta(days=250))  # before the 6 months
            )
        answer = await admin.get("/api/reports/forecast")
        assert answer.status_code == 200, answer.text
        report = answer.json()
    months = {(r["month"], r["currency"]): r for r in report["by_month"]}
    key1, key2 = (f"{m1:%Y-%m}", "RUB"), (f"{m2:%Y-%m}", "RUB")
    # 1000.00 × 20 % + 333.33 × 90 % = 200 + 299.997 = 499.997 → 500.00
    assert months[key1] == {
        "month": key1[0], "currency": "RUB", "past": False, "open_deals": 2,
        "open_amount": "1333.33", "weighted_amount": "500.00", "won_deals": 0,
        "won_amount": "0.00",
    }  # fmt: skip
    assert months[key2]["weighted_amount"] == "6.01"  # 10.01 × 60 % = 6.006
    assert months[(None, "RUB")]["open_deals"] == 1  # no expected date, no amount
    assert months[(None, "RUB")]["weighted_amount"] == "0.00"
    this = months[(f"{d['today']:%Y-%m}", "RUB")]
    assert (this["won_deals"], this["won_amount"]) == (1, "500.00")
    back = months[(f"{three_back:%Y-%m}", "RUB")]
    assert (back["won_deals"], back["won_amount"]) == (1, "250.00")
    # the history covers six months, the oldest first, then the future months
    assert [r["month"] for r in report["by_month"]][:6] == [
        f"{month_after(d['today'], -k):%Y-%m}" for k in range(5, -1, -1)
    ]
    assert report["history_from"] == month_after(d["today"], -5).isoformat()
    owners = {r["owner_id"]: r for r in report["by_owner"]}
    assert owners[anna.id]["weighted_amount"] == "500.00"
    assert owners[anna.id]["won_amount"] == "500.00"
    assert (owners[boris.id]["open_deals"], owners[boris.id]["open_amount"]) == (2, "10.01")
    assert owners[boris.id]["won_amount"] == "250.00"  # Туба is older than the history
    assert owners[boris.id]["owner"] == HOSTILE
    [total] = report["totals"]
    # rounded once: 499.997 + 6.006 = 506.003 → 506.00
    assert total == {
        "currency": "RUB", "open_deals": 4, "open_amount": "1343.34",
        "weighted_amount": "506.00", "won_deals": 2, "won_amount": "750.00",
    }  # fmt: skip
    probabilities = {r["stage"]: (r["probability"], r["probability_set"]) for r in report["stages"]}
    assert probabilities == {
        "Новая": (20, False),
        "Квалификация": (40, False),
        "Предложение": (60, False),
        "Переговоры": (90, True),
    }


async def test_the_csv_is_safe_and_only_managers_and_deal_tokens_read_it(api: Api) -> None:
    d = await dataset(api)
    async with api.signed_in("boss", "admin") as (admin, _):
        made = await admin.post(
            "/api/deals",
            json={"title": "=1+1", "stage_id": d["stages"]["Новая"], "amount": "100",
                  "owner_id": d["boris"].id, "expected_close_on": d["m1"].isoformat()},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        answer = await admin.get("/api/reports/forecast?format=csv&group=owner")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
        assert rows[0] == ["owner_id", "owner", "currency", "open_deals", "open_amount",
                           "weighted_amount", "won_deals", "won_amount"]  # fmt: skip
        assert rows[1][1] == "'" + HOSTILE and rows[1][5] == "20.00"
        by_month = await admin.get("/api/reports/forecast?format=csv")
        assert f"{d['m1']:%Y-%m},RUB,1,100.00,20.00,0,0.00" in by_month.text
        stages = await admin.get("/api/reports/forecast?format=csv&group=stage")
        assert "Продажи,Новая,20,RUB,1,100.00,20.00" in stages.text
        bad = await admin.get("/api/reports/forecast?months=0", headers={"Accept-Language": "ru"})
        assert bad.status_code == 422 and bad.json()["field"] == "months"
        deals_token = (
            await admin.post("/api/tokens", json={"name": "bi", "scopes": ["deals"]})
        ).json()["token"]
        other_token = (
            await admin.post("/api/tokens", json={"name": "c", "scopes": ["contacts:read"]})
        ).json()["token"]
    async with api.client() as bi:
        ok = await bi.get(
            "/api/reports/forecast", headers={"Authorization": f"Bearer {deals_token}"}
        )
        assert ok.status_code == 200 and ok.json()["totals"][0]["open_deals"] == 1
        no = await bi.get(
            "/api/reports/forecast", headers={"Authorization": f"Bearer {other_token}"}
        )
        assert no.status_code == 403
        # the deals scope reaches no other report
        other = await bi.get(
            "/api/reports/agents", headers={"Authorization": f"Bearer {deals_token}"}
        )
        assert other.status_code == 403
        assert (await bi.get("/api/reports/forecast")).status_code == 401
    async with api.signed_in("agent", "agent") as (agent, _):
        assert (await agent.get("/api/reports/forecast")).status_code == 403


def test_default_probabilities_spread_the_open_stages() -> None:
    kinds = ["open", "open", "open", "won", "lost"]
    stages = [
        Stage(id=i + 1, pipeline_id=1, name=str(i), position=i, kind=k) for i, k in enumerate(kinds)
    ]
    assert default_probabilities(stages) == {1: 25, 2: 50, 3: 75, 4: 100, 5: 0}
    assert StageKind.OPEN == "open"


async def test_the_forecast_page_has_the_chart_tables_and_csv_links(api: Api) -> None:
    d = await dataset(api)
    async with api.signed_in("boss", "admin") as (admin, _):
        made = await admin.post(
            "/api/deals",
            json={"title": "<b>x</b>", "stage_id": d["stages"]["Переговоры"], "amount": "1000",
                  "owner_id": d["boris"].id, "expected_close_on": d["m1"].isoformat()},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        page = await admin.get("/reports/forecast?months=3", headers={"Accept-Language": "en"})
        assert page.status_code == 200
        text = page.text
        assert (
            "<svg" in text
            and 'class="chart"' in text
            and "http"
            not in text.split("<svg", 1)[1]
            .split("</svg>", 1)[0]
            .replace("http://www.w3.org/2000/svg", "")
        )
        assert 'href="/api/reports/forecast?months=3&amp;format=csv&amp;group=owner"' in text
        assert HOSTILE not in text and "=HYPERLINK(&#34;http://evil" in text
        assert f'data-month="{d["m1"]:%Y-%m}"' in text and "800.00" in text  # 80 % of 1000
        assert 'href="/admin/pipelines"' in text
        reports = await admin.get("/reports")
        assert 'href="/reports/forecast"' in reports.text
    async with api.signed_in("agent", "agent") as (agent, _):
        refused = await agent.get("/reports/forecast")
        assert refused.status_code == 403


async def test_an_admin_sets_stage_probabilities_on_the_admin_page(api: Api) -> None:
    d = await dataset(api)
    async with api.signed_in("boss", "admin") as (admin, _):
        page = await admin.get("/admin/pipelines")
        assert page.status_code == 200 and 'placeholder="40"' in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        qualify, offer = d["stages"]["Квалификация"], d["stages"]["Предложение"]
        bad = await admin.post(
            "/admin/pipelines",
            data={"csrf_token": token.group(1), f"probability_{qualify}": "150"},
        )
        assert bad.status_code == 422 and "от 0 до 100" in bad.text  # the admin's Russian
        saved = await admin.post(
            "/admin/pipelines",
            data={"csrf_token": token.group(1), f"probability_{qualify}": "35",
                  f"probability_{offer}": ""},
            follow_redirects=True,
        )  # fmt: skip
        assert saved.status_code == 200 and 'id="settings-done"' in saved.text
        assert f'name="probability_{qualify}"' in saved.text and 'value="35"' in saved.text
        report = (await admin.get("/api/reports/forecast")).json()
        chances = {r["stage"]: (r["probability"], r["probability_set"]) for r in report["stages"]}
        assert chances["Квалификация"] == (35, True) and chances["Предложение"] == (60, False)
        stale = await admin.post(
            "/admin/pipelines", data={"csrf_token": "old", f"probability_{qualify}": "1"}
        )
        assert stale.status_code == 403
    async with api.signed_in("sup", "supervisor") as (sup, _):
        assert (await sup.get("/admin/pipelines")).status_code == 403
        assert (await sup.post("/admin/pipelines", data={})).status_code == 403


async def test_a_pipeline_filter_keeps_to_its_deals(api: Api) -> None:
    d = await dataset(api)
    async with api.signed_in("boss", "admin") as (admin, _):
        other = await admin.post(
            "/api/pipelines",
            json={"name": "Опт", "stages": [
                {"name": "Заявка", "probability": 10}, {"name": "Счёт", "probability": 70},
                {"name": "Оплачено", "kind": "won"}, {"name": "Нет", "kind": "lost"},
            ]},
        )  # fmt: skip
        assert other.status_code == 201, other.text
        wholesale = other.json()
        assert [s["probability"] for s in wholesale["stages"]] == [10, 70, None, None]
        bill = wholesale["stages"][1]["id"]
        for pipeline, stage, amount in (
            (wholesale["id"], bill, "200.00"),
            (d["pipeline"], d["stages"]["Новая"], "50.00"),
        ):
            made = await admin.post(
                "/api/deals",
                json={"title": "x", "pipeline_id": pipeline, "stage_id": stage, "amount": amount,
                      "expected_close_on": d["m1"].isoformat()},
            )  # fmt: skip
            assert made.status_code == 201, made.text
        both = (await admin.get("/api/reports/forecast")).json()["totals"][0]
        assert both["weighted_amount"] == "150.00"  # 200 × 70 % + 50 × 20 %
        only = await admin.get(f"/api/reports/forecast?pipeline_id={wholesale['id']}")
        assert only.json()["totals"][0]["weighted_amount"] == "140.00"
        assert {r["stage"] for r in only.json()["stages"]} == {"Заявка", "Счёт"}
        page = await admin.get(f"/reports/forecast?pipeline_id={wholesale['id']}")
        assert page.status_code == 200 and 'name="pipeline_id"' in page.text
        assert f'<option value="{wholesale["id"]}" selected>Опт</option>' in page.text
        assert "140,00" in page.text and "150,00" not in page.text  # Russian figures
