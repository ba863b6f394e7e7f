"""Fixtures over the real Asterisk kit (tests.asterisk.kit_lab.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asterisk.kit_lab import LabPbx, TrubkaNode, node_fixture


@pytest.fixture(scope="session")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabPbx]:
    lab = LabPbx.start(tmp_path_factory.mktemp("pbx"))
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def trubka(tmp_path: Path, pbx: LabPbx) -> Iterator[TrubkaNode]:
    pbx.wait_idle()
    yield from node_fixture(tmp_path, pbx)


@pytest.fixture
def trubka_on_each_database(tmp_path: Path, pbx: LabPbx, database_url: str) -> Iterator[TrubkaNode]:
    """`trubka serve` on SQLite, and on the PostgreSQL server of TRUBKA_TEST_PG_URL."""
    pbx.wait_idle()
    yield from node_fixture(tmp_path, pbx, database_url)
