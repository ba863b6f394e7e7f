"""What the report page shows besides the reports of `supervisor.reports`: the date
presets (today … last month, in the call center's time zone), the agent sessions report
and the definition of every figure, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from crm.users import UserDirectory
from supervisor.agent_sessions import AgentSessions, AgentUser
from supervisor.periods import ReportPeriod
from supervisor.presets import all_presets
from supervisor.service import Supervisor
from web.i18n import N_
from web.report_definitions import definitions

PRESET_LABELS = {
    "today": N_("Today"),
    "yesterday": N_("Yesterday"),
    "this_week": N_("This week"),
    "last_week": N_("Last week"),
    "this_month": N_("This month"),
    "last_month": N_("Last month"),
}


def presets(today: date, gettext: Callable[[str], str]) -> list[tuple[str, str, ReportPeriod]]:
    """(name, label, period) of every preset, seen from the local day `today`."""
    return [
        (name, gettext(PRESET_LABELS[name]), period) for name, period in all_presets(today).items()
    ]


async def agent_users(directory: UserDirectory) -> dict[str, AgentUser]:
    """The users behind the agents' interfaces, by agent key."""
    by_key, _by_id = await directory.snapshot()
    return {key: AgentUser(ref.user_id, ref.name) for key, ref in by_key.items()}


async def sessions_report(
    supervisor: Supervisor,
    directory: UserDirectory,
    period: ReportPeriod,
    agent_rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    report = AgentSessions(supervisor.reports.db, supervisor.config.timezone)
    return await report.report(period, agent_rows, await agent_users(directory))


def extras_context(today: date, gettext: Callable[[str], str]) -> dict[str, Any]:
    """The presets and definitions (also on a page whose dates were refused)."""
    return {"presets": presets(today, gettext), "figure_definitions": definitions(gettext)}
