"""Deals and their pipelines (the sales funnel).

A pipeline is an ordered list of stages, each `open`, `won` or `lost`; admins configure
them (a stage that deals stand in cannot be removed). A deal sits in one stage; every
change of stage, amount or owner is kept in `deal_events` — the stage history, and the
deal part of the contact's timeline. Amounts are kept in minor units (kopecks) and
returned as decimal strings.
"""

from __future__ import annotations

import builtins
import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from crm.access import Actor
from crm.contacts import iso, now, require_user
from crm.database import Database
from crm.errors import Forbidden, InvalidInput
from crm.hooks.outbox import emit
from crm.models import Company, Contact, Deal, DealEvent, Pipeline, Stage, StageKind
from crm.schemas import DealCreate, DealUpdate, PipelineCreate, PipelineUpdate, StageIn, changes
from crm.users import user_names
from crm.versioned import Entity

PIPELINES = Entity(Pipeline, "pipeline", "this pipeline was changed by someone else")
DEALS = Entity(Deal, "deal", "this deal was changed by someone else; reload it")

DEFAULT_PIPELINE = (
    "Продажи",
    [
        ("Новая", "open"),
        ("Квалификация", "open"),
        ("Предложение", "open"),
        ("Переговоры", "open"),
        ("Успешно", "won"),
        ("Отказ", "lost"),
    ],
)


def money(amount_minor: int | None) -> str | None:
    return (
        None
        if amount_minor is None
        else str((Decimal(amount_minor) / 100).quantize(Decimal("0.01")))
    )


def minor(amount: Decimal | None) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())


async def pipeline_views(
    session: AsyncSession, pipelines: builtins.list[Pipeline]
) -> builtins.list[dict[str, Any]]:
    ids = [p.id for p in pipelines]
    stages: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for s in (
            await session.scalars(
                select(Stage).where(Stage.pipeline_id.in_(ids)).order_by(Stage.position, Stage.id)
            )
        ).all():
            stages.setdefault(s.pipeline_id, []).append(
                {
                    "id": s.id,
                    "name": s.name,
                    "kind": s.kind,
                    "position": s.position,
                    "probability": s.probability,
                }
            )
    return [
        {
            "id": p.id,
            "name": p.name,
            "position": p.position,
            "stages": stages.get(p.id, []),
            "version": p.version,
        }
        for p in pipelines
    ]


async def deal_views(
    session: AsyncSession, deals: builtins.list[Deal]
) -> builtins.list[dict[str, Any]]:
    stage_ids = {d.stage_id for d in deals}
    stages = (
        {
            s.id: s
            for s in (await session.scalars(select(Stage).where(Stage.id.in_(stage_ids)))).all()
        }
        if stage_ids
        else {}
    )
    owner_ids = {d.owner_id for d in deals if d.owner_id is not None}
    owners = await user_names(session, owner_ids)
    views = []
    for d in deals:
        stage = stages.get(d.stage_id)
        views.append(
            {
                "id": d.id,
                "title": d.title,
                "pipeline_id": d.pipeline_id,
                "stage_id": d.stage_id,
                "stage": {"id": stage.id, "name": stage.name, "kind": stage.kind}
                if stage
                else None,
                "amount": money(d.amount_minor),
                "currency": d.currency,
                "contact_id": d.contact_id,
                "company_id": d.company_id,
                "owner_id": d.owner_id,
                "owner": {"id": d.owner_id, "name": owners.get(d.owner_id)} if d.owner_id else None,
                "created_at": iso(d.created_at),
                "updated_at": iso(d.updated_at),
                "closed_at": iso(d.closed_at),
                "expected_close_on": d.expected_close_on.isoformat()
                if d.expected_close_on
                else None,
                "version": d.version,
            }
        )
    return views


class PipelineService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ensure_default(self, session: AsyncSession) -> Pipeline:
        """The first pipeline, created with the default Russian sales funnel if there is none."""
        pipeline = await session.scalar(
            select(Pipeline).order_by(Pipeline.position, Pipeline.id).limit(1)
        )
        if pipeline is not None:
            return pipeline
        name, stages = DEFAULT_PIPELINE
        pipeline = Pipeline(name=name, position=0, created_at=now())
        session.add(pipeline)
        await session.flush()
        session.add_all(
            Stage(pipeline_id=pipeline.id, name=n, kind=k, position=i)
            for i, (n, k) in enumerate(stages)
        )
        await session.flush()
        return pipeline

    async def list(self) -> builtins.list[dict[str, Any]]:
        async with self.db.transaction() as session:
            await self.ensure_default(session)
            pipelines = list(
                (
                    await session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id))
                ).all()
            )
            return await pipeline_views(session, pipelines)

    async def get(self, pipeline_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            pipeline = await PIPELINES.get(session, pipeline_id)
            return (await pipeline_views(session, [pipeline]))[0]

    async def create(self, data: PipelineCreate, actor: Actor) -> dict[str, Any]:
        actor.require_admin("configure pipelines")
        async with self.db.transaction() as session:
            if (
                await session.scalar(select(Pipeline.id).where(Pipeline.name == data.name))
                is not None
            ):
                raise InvalidInput(f"a pipeline named {data.name!r} exists already", field="name")
            position = int(await session.scalar(select(func.count(Pipeline.id))) or 0)
            pipeline = Pipeline(name=data.name, position=position, created_at=now())
            session.add(pipeline)
            await session.flush()
            await self._set_stages(session, pipeline.id, data.stages)
            return (await pipeline_views(session, [pipeline]))[0]

    async def _set_stages(
        self, session: AsyncSession, pipeline_id: int, wanted: builtins.list[StageIn]
    ) -> None:
        existing = {
            s.id: s
            for s in (
                await session.scalars(select(Stage).where(Stage.pipeline_id == pipeline_id))
            ).all()
        }
        keep = {s.id for s in wanted if s.id is not None}
        for stage_id in keep - set(existing):
            raise InvalidInput(f"stage {stage_id} is not in this pipeline", field="stages")
        for stage_id in set(existing) - keep:
            used = await session.scalar(
                select(func.count(Deal.id)).where(Deal.stage_id == stage_id)
            )
            if used:
                raise InvalidInput(
                    f"stage {existing[stage_id].name!r} still has {used} deal(s); move them first",
                    field="stages",
                )
            await session.delete(existing[stage_id])
        await session.flush()
        # two passes so renames that swap names do not collide on the unique constraint
        for stage in existing.values():
            if stage.id in keep:
                stage.name = f"~renaming~{stage.id}~{secrets.token_hex(6)}"
        await session.flush()
        for position, item in enumerate(wanted):
            if item.id is not None:
                stage = existing[item.id]
                stage.name, stage.kind, stage.position = item.name, item.kind.value, position
                if "probability" in item.model_fields_set:
                    stage.probability = item.probability
            else:
                session.add(
                    Stage(
                        pipeline_id=pipeline_id,
                        name=item.name,
                        kind=item.kind.value,
                        position=position,
                        probability=item.probability,
                    )
                )
        await session.flush()

    async def update(self, pipeline_id: int, data: PipelineUpdate, actor: Actor) -> dict[str, Any]:
        actor.require_admin("configure pipelines")
        async with PIPELINES.updating(self.db, pipeline_id, data.version) as (session, pipeline):
            if data.name is not None:
                pipeline.name = data.name
            flag_modified(pipeline, "name")  # stages may change: the pipeline's version moves too
            await session.flush()
            if data.stages is not None:
                await self._set_stages(session, pipeline_id, data.stages)
            return (await pipeline_views(session, [pipeline]))[0]


class DealService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.pipelines = PipelineService(db)

    async def _stage(self, session: AsyncSession, pipeline_id: int, stage_id: int | None) -> Stage:
        if stage_id is None:
            stage = await session.scalar(
                select(Stage)
                .where(Stage.pipeline_id == pipeline_id)
                .order_by(Stage.position, Stage.id)
                .limit(1)
            )
            if stage is None:
                raise InvalidInput("this pipeline has no stages", field="pipeline_id")
            return stage
        stage = await session.get(Stage, stage_id)
        if stage is None or stage.pipeline_id != pipeline_id:
            raise InvalidInput(
                f"stage {stage_id} is not a stage of pipeline {pipeline_id}", field="stage_id"
            )
        return stage

    async def _subjects(
        self, session: AsyncSession, contact_id: int | None, company_id: int | None
    ) -> None:
        if contact_id is not None and await session.get(Contact, contact_id) is None:
            raise InvalidInput(f"contact {contact_id} does not exist", field="contact_id")
        if company_id is not None and await session.get(Company, company_id) is None:
            raise InvalidInput(f"company {company_id} does not exist", field="company_id")

    async def create(self, data: DealCreate, actor: Actor) -> dict[str, Any]:
        owner_id = data.owner_id if "owner_id" in data.model_fields_set else actor.user_id
        actor.require_assign(owner_id, None, "deal")
        async with self.db.transaction() as session:
            await require_user(session, owner_id, "owner_id")
            await self._subjects(session, data.contact_id, data.company_id)
            if data.pipeline_id is None:
                pipeline_id = (await self.pipelines.ensure_default(session)).id
            else:
                if await session.get(Pipeline, data.pipeline_id) is None:
                    raise InvalidInput(
                        f"pipeline {data.pipeline_id} does not exist", field="pipeline_id"
                    )
                pipeline_id = data.pipeline_id
            stage = await self._stage(session, pipeline_id, data.stage_id)
            company_id = data.company_id
            if company_id is None and data.contact_id is not None:
                company_id = await session.scalar(
                    select(Contact.company_id).where(Contact.id == data.contact_id)
                )
            stamp = now()
            deal = Deal(
                title=data.title,
                pipeline_id=pipeline_id,
                stage_id=stage.id,
                amount_minor=minor(data.amount),
                currency=data.currency,
                contact_id=data.contact_id,
                company_id=company_id,
                owner_id=owner_id,
                created_at=stamp,
                updated_at=stamp,
                closed_at=stamp if stage.kind != StageKind.OPEN else None,
                expected_close_on=data.expected_close_on,
            )
            session.add(deal)
            await session.flush()
            session.add(
                DealEvent(
                    deal_id=deal.id,
                    contact_id=deal.contact_id,
                    company_id=deal.company_id,
                    user_id=actor.user_id,
                    at=stamp,
                    kind="created",
                    to_stage_id=stage.id,
                    detail={
                        "title": deal.title,
                        "stage": stage.name,
                        "amount": money(deal.amount_minor),
                    },
                )
            )
            await session.flush()
            view = (await deal_views(session, [deal]))[0]
            await emit(session, "deal.created", view, contact_id=deal.contact_id)
            return view

    async def get(self, deal_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            deal = await DEALS.get(session, deal_id)
            return (await deal_views(session, [deal]))[0]

    async def list(
        self,
        *,
        contact_id: int | None = None,
        company_id: int | None = None,
        owner_id: int | None = None,
        stage_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[dict[str, Any]]:
        query = select(Deal).order_by(Deal.updated_at.desc(), Deal.id.desc()).limit(limit)
        for column, value in (
            (Deal.contact_id, contact_id),
            (Deal.company_id, company_id),
            (Deal.owner_id, owner_id),
            (Deal.stage_id, stage_id),
        ):
            if value is not None:
                query = query.where(column == value)
        async with self.db.session() as session:
            return await deal_views(session, list((await session.scalars(query)).all()))

    async def history(self, deal_id: int) -> builtins.list[dict[str, Any]]:
        """The deal's changes, oldest first, with stage names."""
        async with self.db.session() as session:
            await DEALS.get(session, deal_id)
            events = list(
                (
                    await session.scalars(
                        select(DealEvent)
                        .where(DealEvent.deal_id == deal_id)
                        .order_by(DealEvent.at, DealEvent.id)
                    )
                ).all()
            )
            return await deal_event_views(session, events)

    async def update(self, deal_id: int, data: DealUpdate, actor: Actor) -> dict[str, Any]:
        fields = changes(data)
        async with DEALS.updating(self.db, deal_id, data.version) as (session, deal):
            if not actor.is_manager and deal.owner_id not in (None, actor.user_id):
                raise Forbidden("this deal belongs to another manager")
            with session.no_autoflush:  # one flush: the version moves by one
                stamp = now()
                events: builtins.list[DealEvent] = []

                def event(kind: str, **kw: Any) -> None:
                    events.append(
                        DealEvent(deal_id=deal.id, user_id=actor.user_id, at=stamp, kind=kind, **kw)
                    )

                if "owner_id" in fields and data.owner_id != deal.owner_id:
                    actor.require_assign(data.owner_id, deal.owner_id, "deal")
                    await require_user(session, data.owner_id, "owner_id")
                    event("owner", detail={"from": deal.owner_id, "to": data.owner_id})
                    deal.owner_id = data.owner_id
                if data.stage_id is not None and data.stage_id != deal.stage_id:
                    old = await session.get(Stage, deal.stage_id)
                    new = await self._stage(session, deal.pipeline_id, data.stage_id)
                    event(
                        "stage",
                        from_stage_id=deal.stage_id,
                        to_stage_id=new.id,
                        detail={
                            "from": old.name if old else None,
                            "to": new.name,
                            "kind": new.kind,
                        },
                    )
                    deal.stage_id = new.id
                    deal.closed_at = stamp if new.kind != StageKind.OPEN else None
                if "amount" in fields and minor(data.amount) != deal.amount_minor:
                    event(
                        "amount",
                        detail={
                            "from": money(deal.amount_minor),
                            "to": money(minor(data.amount)),
                        },
                    )
                    deal.amount_minor = minor(data.amount)
                if data.currency is not None:
                    deal.currency = data.currency
                if data.title is not None:
                    deal.title = data.title
                if "expected_close_on" in fields:
                    deal.expected_close_on = data.expected_close_on
                if "contact_id" in fields or "company_id" in fields:
                    await self._subjects(
                        session,
                        data.contact_id if "contact_id" in fields else None,
                        data.company_id if "company_id" in fields else None,
                    )
                    if "contact_id" in fields:
                        deal.contact_id = data.contact_id
                    if "company_id" in fields:
                        deal.company_id = data.company_id
                for e in events:
                    e.contact_id, e.company_id = deal.contact_id, deal.company_id
                session.add_all(events)
                deal.updated_at = stamp
            await session.flush()
            view = (await deal_views(session, [deal]))[0]
            if any(e.kind == "stage" for e in events):
                await emit(session, "deal.stage_changed", view, contact_id=deal.contact_id)
            return view

    async def delete(self, deal_id: int, actor: Actor) -> None:
        actor.require_manager("delete deals")
        async with self.db.transaction() as session:
            deal = await DEALS.get(session, deal_id)
            await session.delete(deal)


async def deal_event_views(
    session: AsyncSession, events: builtins.list[DealEvent]
) -> builtins.list[dict[str, Any]]:
    deal_ids = {e.deal_id for e in events}
    titles = (
        dict(
            (await session.execute(select(Deal.id, Deal.title).where(Deal.id.in_(deal_ids)))).all()
        )
        if deal_ids
        else {}
    )
    user_ids = {e.user_id for e in events if e.user_id is not None}
    users = await user_names(session, user_ids)
    return [
        {
            "id": e.id,
            "deal_id": e.deal_id,
            "deal_title": titles.get(e.deal_id),
            "kind": e.kind,
            "at": iso(e.at),
            "user": {"id": e.user_id, "name": users.get(e.user_id)} if e.user_id else None,
            "from_stage_id": e.from_stage_id,
            "to_stage_id": e.to_stage_id,
            "detail": dict(e.detail or {}),
        }
        for e in events
    ]
