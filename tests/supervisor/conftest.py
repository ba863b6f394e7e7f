from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from crm.call_records import CallStore
from crm.database import Database
from supervisor.config import ReportConfig
from supervisor.missed import MissedCalls
from supervisor.reports import ReportService
from supervisor.rollups import RollupStore
from tests.supervisor.kit_dataset import CALLS, SERVICE_LEVELS, TIMEZONE


@dataclass
class Reporting:
    db: Database
    config: ReportConfig
    calls: CallStore
    rollups: RollupStore
    reports: ReportService
    missed: MissedCalls


def reporting(
    db: Database, timezone: str = TIMEZONE, levels: dict[str, int] | None = None
) -> Reporting:
    config = ReportConfig.create(timezone, 20, SERVICE_LEVELS if levels is None else levels)
    return Reporting(
        db,
        config,
        CallStore(db),
        RollupStore(db, config),
        ReportService(db, config),
        MissedCalls(db, config),
    )


@pytest.fixture
async def known(db: Database) -> AsyncIterator[Reporting]:
    """The hand-written data set, stored and rolled up."""
    r = reporting(db)
    assert await r.calls.save(CALLS) == len(CALLS)
    assert await r.rollups.catch_up() == len(CALLS)
    yield r
