"""What the sales forecast page shows (`/reports/forecast`, rendered by
`web.pages.supervisor`): the report of `web.api.forecast`, month names in the page's
language, the chart (closed-won history, weighted forecast and the open amount by month,
server-rendered SVG from `web.charts`) and the CSV links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date
from fastapi import Request

from web.api.forecast import forecast_report
from web.auth import crm_of
from web.charts import Series, bar_chart
from web.i18n import N_

NO_DATE = N_("No date")
MONTHS = (3, 6, 12, 24)


def month_label(
    month: str | None, lang: str, gettext: Callable[[str], str], pattern: str = "LLLL yyyy"
) -> str:
    """ "декабрь 2026" (or with `pattern` "LLL yy": "дек. 26", the chart's axis)."""
    if not month:
        return gettext(NO_DATE)
    year, number = month.split("-")
    return str(format_date(date(int(year), int(number), 1), pattern, locale=lang))


def main_currency(report: dict[str, Any]) -> str:
    totals = report["totals"]
    if not totals:
        return "RUB"
    best = max(totals, key=lambda t: float(t["open_amount"]) + float(t["won_amount"]))
    return str(best["currency"])


async def forecast_context(
    request: Request,
    lang: str,
    gettext: Callable[[str], str],
    *,
    months: int,
    owner_id: int | None,
    pipeline_id: int | None = None,
) -> dict[str, Any]:
    report = await forecast_report(request, months, pipeline_id, owner_id)
    for row in report["by_month"]:
        row["label"] = month_label(row["month"], lang, gettext)
        row["short"] = month_label(row["month"], lang, gettext, "LLL yy")
    currency = main_currency(report)
    rows = [r for r in report["by_month"] if r["currency"] == currency]
    chart = bar_chart(
        [r["short"] for r in rows],
        [
            Series(gettext("Won"), [float(r["won_amount"]) for r in rows], "#2e7d32"),
            Series(gettext("Weighted forecast"), [float(r["weighted_amount"]) for r in rows],
                   "#1f6feb"),
            Series(gettext("Open, not weighted"), [float(r["open_amount"]) for r in rows],
                   "#b0bec5"),
        ],
        title=gettext("Sales forecast by month") + f" ({currency})",
        value_format="{:,.2f}",
    )  # fmt: skip
    query: dict[str, Any] = {"months": months}
    if pipeline_id is not None:
        query["pipeline_id"] = pipeline_id
    if owner_id is not None:
        query["owner_id"] = owner_id
    csv_base = "/api/reports/forecast?" + urlencode({**query, "format": "csv"})
    return {
        "report": report,
        "chart": chart,
        "currency": currency,
        "months": months,
        "month_choices": MONTHS,
        "owner_id": owner_id,
        "pipeline_id": pipeline_id,
        "pipelines": [(p["id"], p["name"]) for p in await crm_of(request).pipelines.list()],
        "csv": {group: f"{csv_base}&group={group}" for group in ("month", "owner", "stage")},
    }
