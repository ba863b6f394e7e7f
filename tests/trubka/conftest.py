"""Fixtures for the end-to-end tests: the whole app over a real database, users with
interfaces (101 Иванова, 102 Петров, 103 Сидоров, 104 Козлова, supervisor Старшая), a
trace-driven PBX and a FastAGI client."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm.access import Actor
from crm.database import Database
from crm.linking import link_records
from crm.models import Role
from crm.schemas import ContactCreate
from crm.users import UserInfo
from kernel.agents import AgentState
from telephony.reducer import CallState
from tests.crm.kit_builders import call as history_call
from tests.kit_server import InProcess
from tests.telephony.kit_fake_asterisk import Session, call, environment
from tests.trubka.kit_trace_pbx import TracePbx
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

A101, A102, A103, A104 = (f"Local/{n}@agents/n" for n in (101, 102, 103, 104))
PASSWORD = "correct horse battery"
DAY = 86400.0

RULES = """
lookback_days = 90
supervisor = "starshaya"

[vip]
vip = 10

[dids."+74951110001"]
when_busy = "wait"
wait_seconds = 25

[dids."+74951110002".hours]
timezone = "Europe/Moscow"

[dids."+74951110002".after_hours]
action = "goto"
goto = "voicemail,s,1"
"""

SYSTEM = Actor.system()
_uids = itertools.count(1)


def agent_is(interface: str, state: AgentState) -> Any:
    return lambda s, at: s.agent_state(interface, at) is state


@dataclass
class World:
    services: Services
    server: InProcess
    pbx: TracePbx
    users: dict[str, UserInfo]

    def client(self) -> httpx.AsyncClient:
        return self.server.client()

    @property
    def port(self) -> int:
        return int(self.services.agi.bound_port)

    async def ask(self, caller: str | None, did: str = "74951110000") -> dict[str, str]:
        """One FastAGI session as Asterisk holds it; the variables set, in order."""
        env = environment(
            agi_callerid=caller,  # type: ignore[arg-type]
            agi_arg_1=did,
            agi_uniqueid=f"1795800000.{next(_uids)}",
        )
        session: Session = await call(self.port, env)
        assert session.closed_by_server
        assert session.order[-1] == "ROUTE_AGENT"
        return session.variables

    def presence(self) -> dict[str, AgentState]:
        live: CallState = self.services.live
        now = time.time()
        return {a: live.agent_state(a, now) for a in (A101, A102, A103, A104)}

    async def contact(
        self,
        name: str,
        number: str,
        *,
        also: Sequence[str] = (),
        owner: str | None = None,
        company_id: int | None = None,
        tags: list[str] | None = None,
        talked: Sequence[tuple[str, float]] = (),
    ) -> int:
        """A contact and its answered calls: (interface, days ago)."""
        created = await self.services.crm.contacts.create(
            ContactCreate(
                name=name,
                phones=[number, *also],
                owner_id=self.users[owner].id if owner else None,
                company_id=company_id,
                tags=tags or [],
            ),
            SYSTEM,
        )
        if talked:
            records = [
                history_call(number, agent=interface, ago=days * DAY + 3600)
                for interface, days in talked
            ]
            await self.services.calls.save(records)
            await link_records(self.services.db, records)
        return int(created["id"])


@pytest.fixture
async def world(db: Database, database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    rules = tmp_path / "routing.toml"
    rules.write_text(RULES, encoding="utf-8")
    # A generous facts deadline: a loaded CI machine must not turn decisions into
    # facts-timeouts (the deadline itself has a test of its own).
    app = build_app(
        load_settings(
            database_url=database_url,
            routing_rules=rules,
            routing_facts_timeout=3.0,
            agi_enabled=True,
        )
    )
    services: Services = app.state.services
    async with InProcess(app) as server:
        users = {}
        for login, name, interface, role in [
            ("ivanova", "Иванова", A101, Role.AGENT),
            ("petrov", "Петров", A102, Role.AGENT),
            ("sidorov", "Сидоров", A103, Role.AGENT),
            ("kozlova", "Козлова", A104, Role.AGENT),
            ("starshaya", "Старшая", None, Role.SUPERVISOR),
        ]:
            users[login] = await services.crm.users.create(
                login=login,
                name=name,
                role=role,
                password=PASSWORD,
                interfaces=[interface] if interface else [],
            )
        yield World(services, server, TracePbx(services), users)
