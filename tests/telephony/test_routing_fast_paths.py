"""The FastAGI server's fast paths give what the careful ones give: the environment
parsed in one pass (with and without CRs), `?pbx=` read only when the URL has a query,
and one PBX routed without the several-PBX mapping, as a list of one PBX routes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from routing.facts import AgentRef, RoutingFacts
from routing.rules import RoutingRules
from routing.source import InMemoryFactsSource
from telephony.agi import AgiRequest, EnvironmentParser
from telephony.pbx_routing import PbxRouting
from telephony.pbxes import PbxConfig, PbxList
from telephony.reducer import CallState, ReducerConfig
from telephony.router import CallRouter
from telephony.state import Agent, Membership

LINES = [
    b"agi_network: yes",
    b"agi_network_script: route",
    b"agi_request: agi://127.0.0.1:4573/route",
    b"agi_callerid: 79161234567",
    b"agi_calleridname: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd: a:b  c",
    b"agi_dnid:",
    b"agi_rdnis:  two spaces",
    b"agi_arg_1: 74951110000",
]


def _careful(env: bytes) -> AgiRequest:
    """The request fed a byte at a time (the line-by-line path)."""
    parser = EnvironmentParser()
    for n in range(len(env)):
        request = parser.feed(env[n : n + 1])
        if request is not None:
            return request
    raise AssertionError("no request")


@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
def test_the_whole_environment_at_once_reads_as_line_by_line(end: bytes) -> None:
    env = end.join(LINES) + end + end
    whole = EnvironmentParser().feed(env)
    assert whole is not None
    assert dict(whole.env) == dict(_careful(env).env)
    assert whole.env["agi_calleridname"] == "Иван: a:b  c"
    assert whole.env["agi_dnid"] == ""
    assert whole.env["agi_rdnis"] == " two spaces"
    assert whole.env["agi_arg_1"] == "74951110000"


def test_a_cr_inside_a_value_is_kept_as_before() -> None:
    env = b"agi_network_script: route\nagi_callerid: 7916\r1234\n\n"
    request = EnvironmentParser().feed(env)
    assert request is not None and request.env["agi_callerid"] == "7916\r1234"


@pytest.mark.parametrize(
    ("env", "pbx"),
    [
        ({"agi_network_script": "route", "agi_request": "agi://h:4573/route"}, None),
        ({"agi_network_script": "route"}, None),
        ({"agi_request": "agi://h:4573/route?pbx=b"}, "b"),
        ({"agi_network_script": "route", "agi_request": "agi://h/route?pbx=%20c%20"}, "c"),
        ({"agi_network_script": "route?pbx=d", "agi_request": "agi://h/route"}, "d"),
        ({"agi_request": "agi://h/route?x=1"}, None),
        ({"agi_request": "agi://h/route?pbx="}, None),
    ],
)
def test_the_asking_pbx_only_from_a_query(env: dict[str, str], pbx: str | None) -> None:
    assert AgiRequest(env).pbx == pbx
    assert AgiRequest(env).script == "route"


NOW = datetime.now(UTC)
IVANOVA = AgentRef(1, "Ivanova", ("PJSIP/101",))
PETROV = AgentRef(2, "Petrov", ("PJSIP/102",))
FACTS = {
    "+79161234567": RoutingFacts(
        contact_id=7, owner=PETROV, last_agent=IVANOVA, last_talked_at=NOW - timedelta(days=2)
    ),
    "+79161234568": RoutingFacts(contact_id=8, owner=PETROV),
}


def _live(free: list[str], busy: list[str]) -> CallState:
    state = CallState(config=ReducerConfig(pbx="a"))
    for interface in [*free, *busy]:
        agent = Agent(key=interface)
        agent.memberships["support"] = Membership(
            "support", interface, interface, interface, 1, False, "", False, 0, 0, 0
        )
        agent.device_state = "INUSE" if interface in busy else "NOT_INUSE"
        state.agents[interface] = agent
    return state


@pytest.mark.parametrize(
    ("free", "busy"),
    [(["PJSIP/101", "PJSIP/102"], []), (["PJSIP/102"], ["PJSIP/101"]), ([], ["PJSIP/101"])],
)
async def test_one_pbx_routes_as_a_list_of_one_pbx(free: list[str], busy: list[str]) -> None:
    live = _live(free, busy)
    at = time.time()

    def router() -> CallRouter:
        return CallRouter(InMemoryFactsSource(FACTS), live, RoutingRules(), clock=lambda: at)

    one = router()
    listed = router()
    listed.pbxes = PbxRouting(PbxList((PbxConfig(name="a"),)), {"a": live})
    for caller in ("79161234567", "+79161234568", "79650000000", "anonymous", None):
        for pbx in (None, "a", "zzz"):
            plain = await one.route(caller, "74951110000", uniqueid="1.1", pbx=pbx)
            mapped = await listed.route(caller, "74951110000", uniqueid="1.1", pbx=pbx)
            assert plain == mapped
    assert one.stats.decisions == listed.stats.decisions
    assert set(one.stats.decisions) >= {"unknown-caller"}
    if free:  # an agent got a call (not only the queue)
        assert {"previous-manager", "owner"} & set(one.stats.decisions)
    assert one.memo.get("1.1") == listed.memo.get("1.1")
