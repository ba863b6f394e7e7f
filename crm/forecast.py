"""The sales forecast: open deals weighted by their stage's probability, by expected close
month and by owner, next to the deals won in the past months.

- A stage's probability (0–100 %) is set by an admin (`pipeline_stages.probability`);
  unset, it is 100 for a won stage, 0 for a lost one, and the open stages of a pipeline
  are spread evenly by their order: with n open stages the k-th gets round(100·k/(n+1))
  (the default funnel's four open stages: 20, 40, 60, 80).
- An open deal (its stage is open) counts in the month of its `expected_close_on`
  (null: "no date"); its weighted amount is amount × probability / 100. Amounts are
  summed exactly in minor units and rounded half up to kopecks once, per row.
- Won deals (their stage is won) count in the month of `closed_at` (in the report's
  time zone), from the first day of the month `months` − 1 months back until now.
- Every figure is per currency: deals in different currencies are never added up.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.database import Database
from crm.errors import InvalidInput, NotFound
from crm.models import Deal, Pipeline, Stage, StageKind
from crm.users import user_names

NO_DATE = ""  # the month key of open deals without an expected close date


def default_probabilities(stages: Sequence[Stage]) -> dict[int, int]:
    """The default probability of each stage of one pipeline (see the module docstring)."""
    ordered = sorted(stages, key=lambda s: (s.position, s.id))
    open_stages = [s for s in ordered if s.kind == StageKind.OPEN]
    result = {s.id: 100 if s.kind == StageKind.WON else 0 for s in ordered}
    for k, stage in enumerate(open_stages, start=1):
        result[stage.id] = int(
            (Decimal(100 * k) / (len(open_stages) + 1)).quantize(Decimal(1), ROUND_HALF_UP)
        )
    return result


def stage_probabilities(stages: Sequence[Stage]) -> dict[int, int]:
    """The probability in effect for each stage (stored, else the default of its pipeline)."""
    by_pipeline: dict[int, list[Stage]] = {}
    for stage in stages:
        by_pipeline.setdefault(stage.pipeline_id, []).append(stage)
    result: dict[int, int] = {}
    for group in by_pipeline.values():
        defaults = default_probabilities(group)
        for stage in group:
            result[stage.id] = (
                stage.probability if stage.probability is not None else defaults[stage.id]
            )
    return result


def money(total_minor_x100: int) -> str:
    """A sum kept in 1/100 of a minor unit (amount × percent) as a decimal string."""
    return str((Decimal(total_minor_x100) / 10_000).quantize(Decimal("0.01"), ROUND_HALF_UP))


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def months_back(today: date, months: int) -> date:
    """The first day of the month `months` − 1 months before `today`'s month."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


@dataclass(slots=True)
class Figures:
    open_deals: int = 0
    open_minor: int = 0  # Σ amount (minor units)
    weighted_x100: int = 0  # Σ amount × probability (minor units × 100)
    won_deals: int = 0
    won_minor: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "open_deals": self.open_deals,
            "open_amount": money(self.open_minor * 100),
            "weighted_amount": money(self.weighted_x100),
            "won_deals": self.won_deals,
            "won_amount": money(self.won_minor * 100),
        }


@dataclass(slots=True)
class Forecast:
    today: date
    history_from: date
    by_month: dict[tuple[str, str], Figures] = field(default_factory=dict)
    by_owner: dict[tuple[int | None, str], Figures] = field(default_factory=dict)
    totals: dict[str, Figures] = field(default_factory=dict)

    def add(self, month: str, owner: int | None, currency: str) -> list[Figures]:
        return [
            self.by_month.setdefault((month, currency), Figures()),
            self.by_owner.setdefault((owner, currency), Figures()),
            self.totals.setdefault(currency, Figures()),
        ]


class ForecastService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def report(
        self,
        *,
        months: int = 6,
        pipeline_id: int | None = None,
        owner_id: int | None = None,
        zone: tzinfo = UTC,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The forecast (see the module docstring) as JSON-ready rows."""
        moment = (now or datetime.now(UTC)).astimezone(zone)
        today = moment.date()
        start = months_back(today, months)
        since = datetime(start.year, start.month, 1, tzinfo=zone).astimezone(UTC)
        async with self.db.session() as session:
            stage_query = select(Stage)
            if pipeline_id is not None:
                stage_query = stage_query.where(Stage.pipeline_id == pipeline_id)
            stages = list((await session.scalars(stage_query)).all())
            chances = stage_probabilities(stages)
            kinds = {s.id: s.kind for s in stages}
            open_ids = [i for i, k in kinds.items() if k == StageKind.OPEN]
            won_ids = [i for i, k in kinds.items() if k == StageKind.WON]
            columns = (
                Deal.id,
                Deal.stage_id,
                Deal.amount_minor,
                Deal.currency,
                Deal.owner_id,
                Deal.expected_close_on,
                Deal.closed_at,
            )
            owner_filter = [] if owner_id is None else [Deal.owner_id == owner_id]
            open_rows = (
                (
                    await session.execute(
                        select(*columns).where(Deal.stage_id.in_(open_ids), *owner_filter)
                    )
                ).all()
                if open_ids
                else []
            )
            won_rows = (
                (
                    await session.execute(
                        select(*columns).where(
                            Deal.stage_id.in_(won_ids), Deal.closed_at >= since, *owner_filter
                        )
                    )
                ).all()
                if won_ids
                else []
            )
            owners = await user_names(
                session, {r.owner_id for r in (*open_rows, *won_rows) if r.owner_id is not None}
            )
            pipelines = dict((await session.execute(select(Pipeline.id, Pipeline.name))).all())
        forecast = Forecast(today=today, history_from=start)
        # every month of the history is shown, with or without deals
        month = start
        while month <= today:
            forecast.by_month.setdefault((month_of(month), "RUB"), Figures())
            month = next_month(month)
        stage_totals: dict[tuple[int, str], Figures] = {}
        for row in open_rows:
            key = month_of(row.expected_close_on) if row.expected_close_on else NO_DATE
            amount = int(row.amount_minor or 0)
            chance = chances.get(row.stage_id, 0)
            per_stage = stage_totals.setdefault((row.stage_id, row.currency), Figures())
            for figures in (*forecast.add(key, row.owner_id, row.currency), per_stage):
                figures.open_deals += 1
                figures.open_minor += amount
                figures.weighted_x100 += amount * chance
        for row in won_rows:
            closed = row.closed_at.astimezone(zone).date()
            for figures in forecast.add(month_of(closed), row.owner_id, row.currency):
                figures.won_deals += 1
                figures.won_minor += int(row.amount_minor or 0)
        return {
            "today": today.isoformat(),
            "history_from": start.isoformat(),
            "by_month": [
                {
                    "month": m or None,
                    "currency": c,
                    "past": bool(m) and m < month_of(today),
                    **f.to_json(),
                }
                for (m, c), f in sorted(
                    forecast.by_month.items(), key=lambda kv: (kv[0][0] or "9999", kv[0][1])
                )
            ],
            "by_owner": [
                {"owner_id": o, "owner": owners.get(o) if o else None, "currency": c, **f.to_json()}
                for (o, c), f in sorted(
                    forecast.by_owner.items(),
                    key=lambda kv: ((owners.get(kv[0][0]) or "") if kv[0][0] else "\uffff", kv[0]),
                )
            ],
            "stages": [
                {
                    "stage_id": s.id,
                    "stage": s.name,
                    "pipeline_id": s.pipeline_id,
                    "pipeline": pipelines.get(s.pipeline_id),
                    "kind": s.kind,
                    "probability": chances[s.id],
                    "probability_set": s.probability is not None,
                    "currency": currency,
                    **figures.to_json(),
                }
                for s in sorted(stages, key=lambda s: (s.pipeline_id, s.position, s.id))
                if s.kind == StageKind.OPEN
                for currency, figures in (
                    sorted(
                        ((c, f) for (i, c), f in stage_totals.items() if i == s.id),
                        key=lambda cf: cf[0],
                    )
                    or [("RUB", Figures())]
                )
            ],
            "totals": [{"currency": c, **f.to_json()} for c, f in sorted(forecast.totals.items())],
        }

    async def stages(self) -> builtins.list[dict[str, Any]]:
        """Every stage with its stored (`probability_set`) and effective probability."""
        async with self.db.session() as session:
            return await stage_rows(session)

    async def set_probabilities(
        self, values: dict[int, int | None]
    ) -> builtins.list[dict[str, Any]]:
        """Set (or, with None, reset to the default) the probability of stages; the stages
        of their pipelines with the probability in effect."""
        async with self.db.transaction() as session:
            touched: set[int] = set()
            for stage_id, value in values.items():
                if value is not None and not 0 <= value <= 100:
                    raise InvalidInput(
                        "a probability is a whole number from 0 to 100", field=f"stage.{stage_id}"
                    )
                stage = await session.get(Stage, stage_id)
                if stage is None:
                    raise NotFound("no such stage")
                stage.probability = value
                touched.add(stage.pipeline_id)
            await session.flush()
            return await stage_rows(session, touched or None)


async def stage_rows(
    session: AsyncSession, pipeline_ids: set[int] | None = None
) -> list[dict[str, Any]]:
    """Every stage (of these pipelines) with its stored and effective probability."""
    query = select(Stage, Pipeline.name).join(Pipeline, Pipeline.id == Stage.pipeline_id)
    if pipeline_ids is not None:
        query = query.where(Stage.pipeline_id.in_(pipeline_ids))
    rows = (
        await session.execute(
            query.order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id)
        )
    ).all()
    chances = stage_probabilities([r[0] for r in rows])
    return [
        {
            "id": stage.id,
            "name": stage.name,
            "kind": stage.kind,
            "pipeline_id": stage.pipeline_id,
            "pipeline": name,
            "probability": chances[stage.id],
            "probability_set": stage.probability,
        }
        for stage, name in rows
    ]
