"""The CRM's agent directory finds a user by any name of their agent (issue 16, item 8):
a FreePBX queue's member `Local/201@from-queue/n` rings the phone `PJSIP/201`; a user
configured as either is the same person."""

from __future__ import annotations

from typing import Any, cast

import pytest

from crm.users import UserDirectory
from kernel.agents import agent_key
from routing.facts import AgentRef
from telephony.reducer import CallState
from trubka.adapters import CrmAgentDirectory


class Users:
    """`UserDirectory.snapshot` over fixed users (keys as the CRM keys them)."""

    def __init__(self, refs: list[AgentRef]) -> None:
        self.refs = refs

    async def snapshot(self) -> tuple[dict[str, AgentRef], dict[int, AgentRef]]:
        by_key = {agent_key(i): r for r in self.refs for i in r.interfaces}
        return by_key, {r.user_id: r for r in self.refs}


@pytest.mark.parametrize("interface", ["PJSIP/201", "Local/201@from-queue/n"])
async def test_a_user_is_found_by_the_member_or_the_phone(interface: str) -> None:
    live = CallState()
    live.aliases["PJSIP/201"] = "Local/201@from-queue"  # QueueStatus: StateInterface
    users: Any = Users([AgentRef(1, "Agent 201", (interface,)), AgentRef(2, "B", ("PJSIP/202",))])
    directory = CrmAgentDirectory(cast(UserDirectory, users), live)
    await directory.refresh()
    for name in ("Local/201@from-queue", "Local/201@from-queue/n", "PJSIP/201", "pjsip/201"):
        assert directory.users_for(name) == {1}, name
    assert directory.users_for("PJSIP/202") == {2}
    assert directory.users_for("PJSIP/203") == set()
