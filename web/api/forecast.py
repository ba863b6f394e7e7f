"""`GET /api/reports/forecast`: the sales forecast (docs/reports.md), as JSON or CSV.

Parameters: `months` (the closed-won history, 1–36 months back including this one;
6), `pipeline_id`, `owner_id`, `format=json|csv`, and for CSV `group=month|owner|stage`
(which table; month). Supervisors and admins, or an API token with the scope `deals`.
CSV cells that a spreadsheet would run as a formula are written as text
(`supervisor.export.cell`). The figures are `crm.forecast.ForecastService`'s.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from crm.forecast import ForecastService
from supervisor.export import to_csv
from web.api.access import SUPERVISOR_ONLY
from web.api.views import ERRORS
from web.auth import crm_of
from web.deps import get_services

router = APIRouter(
    prefix="/api/reports", tags=["reports"], responses=ERRORS, dependencies=SUPERVISOR_ONLY
)

FIGURES = ["open_deals", "open_amount", "weighted_amount", "won_deals", "won_amount"]
CSV_COLUMNS = {
    "month": ["month", "currency", *FIGURES],
    "owner": ["owner_id", "owner", "currency", *FIGURES],
    "stage": ["pipeline", "stage", "probability", "currency", "open_deals", "open_amount",
              "weighted_amount"],
}  # fmt: skip
TABLES = {"month": "by_month", "owner": "by_owner", "stage": "stages"}


class Figures(BaseModel):
    currency: str
    open_deals: int
    open_amount: str
    weighted_amount: str
    won_deals: int
    won_amount: str


class MonthRow(Figures):
    month: str | None  # YYYY-MM; null: open deals without an expected close date
    past: bool


class OwnerRow(Figures):
    owner_id: int | None
    owner: str | None


class StageRow(Figures):
    stage_id: int
    stage: str
    pipeline_id: int
    pipeline: str | None
    kind: str
    probability: int
    probability_set: bool


class ForecastView(BaseModel):
    today: str
    history_from: str
    by_month: list[MonthRow]
    by_owner: list[OwnerRow]
    stages: list[StageRow]
    totals: list[Figures]


def report_zone(request: Request) -> tzinfo:
    try:
        return ZoneInfo(str(getattr(get_services(request).settings, "timezone", "UTC")))
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


async def forecast_report(
    request: Request, months: int, pipeline_id: int | None, owner_id: int | None
) -> dict[str, Any]:
    return await ForecastService(crm_of(request).db).report(
        months=months, pipeline_id=pipeline_id, owner_id=owner_id, zone=report_zone(request)
    )


def forecast_csv(report: dict[str, Any], group: str) -> Response:
    rows = report[TABLES[group]]
    body = to_csv(rows, CSV_COLUMNS[group])
    filename = f"forecast-{group}-{report['today']}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/forecast", response_model=ForecastView)
async def forecast(
    request: Request,
    months: Annotated[int, Query(ge=1, le=36)] = 6,
    pipeline_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    owner_id: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    format: Literal["json", "csv"] = "json",
    group: Literal["month", "owner", "stage"] = "month",
) -> Any:
    """Open deals weighted by their stage's probability, by month and owner, with the
    closed-won history (docs/reports.md, "Sales forecast")."""
    report = await forecast_report(request, months, pipeline_id, owner_id)
    if format == "csv":
        return forecast_csv(report, group)
    return report
