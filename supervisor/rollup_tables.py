"""The rollup tables: `report_hours`, `report_days` and the watermark `report_rollup_state`.

`report_hours` holds one row per (local day, local hour, queue, agent, PBX) with the additive
:class:`~supervisor.figures.Totals` of the calls that *started* in that hour;
`report_days` sums a local day's hours (month reports read a row a day). The PBX is the
calls' (`calls.pbx`, TRUBKA_PBXES; `default` with one PBX): a report sums the PBXes
unless it filters one (migration `0022_pbxrollups`). How they are
computed is :mod:`supervisor.rollup_queries`, how they are kept up to date
:mod:`supervisor.rollups`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import Date, Float, Index, Integer, SmallInteger, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, UTCDateTime
from kernel.call_record import DEFAULT_PBX


class TotalsColumns:
    """The :class:`Totals` counters as columns (shared by the hourly and daily rollups)."""

    agent_name: Mapped[str | None] = mapped_column(String(255))
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    answered_within_sl: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_within_sl: Mapped[int] = mapped_column(Integer, default=0)
    hold_answered_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    hold_abandoned_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    max_hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    outbound: Mapped[int] = mapped_column(Integer, default=0)
    outbound_answered: Mapped[int] = mapped_column(Integer, default=0)
    outbound_talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class ReportHour(TotalsColumns, Base):
    """The calls that started in one local hour, per queue and agent."""

    __tablename__ = "report_hours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)  # the call center's local day
    hour: Mapped[int] = mapped_column(SmallInteger)  # local hour, 0-23
    queue: Mapped[str] = mapped_column(String(80))  # "" = not through a queue
    agent: Mapped[str] = mapped_column(String(128))  # interface key ("" = no agent)
    sl_seconds: Mapped[int] = mapped_column(Integer)  # the threshold these figures used
    pbx: Mapped[str] = mapped_column(String(64), default=DEFAULT_PBX, server_default=DEFAULT_PBX)

    __table_args__ = (
        Index("uq_report_hours_bucket", "day", "hour", "queue", "agent", "pbx", unique=True),
        Index("ix_report_hours_agent_day", "agent", "day"),
    )


class ReportDay(TotalsColumns, Base):
    """The sum of a local day's `report_hours` rows, per queue and agent (month reports)."""

    __tablename__ = "report_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    queue: Mapped[str] = mapped_column(String(80))
    agent: Mapped[str] = mapped_column(String(128))
    sl_min: Mapped[int] = mapped_column(Integer)  # thresholds used that day (equal unless
    sl_max: Mapped[int] = mapped_column(Integer)  # the setting changed during the day)
    pbx: Mapped[str] = mapped_column(String(64), default=DEFAULT_PBX, server_default=DEFAULT_PBX)

    __table_args__ = (
        Index("uq_report_days_bucket", "day", "queue", "agent", "pbx", unique=True),
        Index("ix_report_days_agent_day", "agent", "day"),
    )


class RollupState(Base):
    """How far the rollups got: the highest `calls.id` rolled up, and in which time zone."""

    __tablename__ = "report_rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_call_id: Mapped[int] = mapped_column(Integer, default=0)
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


HOURS = cast(Table, ReportHour.__table__)
DAYS = cast(Table, ReportDay.__table__)
HOUR_KEY = ("day", "hour", "queue", "agent", "pbx")  # the columns of uq_report_hours_bucket
DAY_KEY = ("day", "queue", "agent", "pbx")  # the columns of uq_report_days_bucket
