"""TRUBKA_PBXES: the list of PBXes (JSON or a TOML file), its refusals, the dial-string
templates across PBXes, where an agent's phone is, and the FastAGI `?pbx=` of a request."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kernel.agents import AgentState
from kernel.call_record import DEFAULT_PBX
from telephony.agi import AgiRequest
from telephony.pbx_routing import PbxRouting
from telephony.pbxes import PbxConfig, PbxList, PbxListError, interface_parts, parse_pbxes
from telephony.reducer import CallState, ReducerConfig
from telephony.state import Agent, Membership
from trubka.settings import SettingsError, load_settings

TWO = [
    {"name": "a", "ami_host": "10.0.0.1", "ami_secret": "x", "dial": "PJSIP/{exten}@trunk-a"},
    {
        "name": "b",
        "ami_host": "10.0.0.2",
        "ami_port": 5039,
        "recordings_spool": "/mnt/b/monitor",
        "dial": "Local/{exten}@to-pbx-b",
        "dial_from": {"a": "PJSIP/{exten}@trunk-b"},
    },
]


def test_json_and_toml_give_the_same_pbxes(tmp_path: Path) -> None:
    from_json = parse_pbxes(json.dumps(TWO))
    path = tmp_path / "pbxes.toml"
    path.write_text(
        """
[[pbx]]
name = "a"
ami_host = "10.0.0.1"
ami_secret = "x"
dial = "PJSIP/{exten}@trunk-a"

[[pbx]]
name = "b"
ami_host = "10.0.0.2"
ami_port = 5039
recordings_spool = "/mnt/b/monitor"
dial = "Local/{exten}@to-pbx-b"
dial_from = { a = "PJSIP/{exten}@trunk-b" }
""",
        encoding="utf-8",
    )
    assert parse_pbxes(str(path)) == from_json
    a, b = from_json
    assert (a.name, a.ami_host, a.ami_port, a.ami_user) == ("a", "10.0.0.1", 5038, "trubka")
    assert (b.ami_port, b.recordings_spool) == (5039, Path("/mnt/b/monitor"))


def test_the_single_ami_settings_are_one_pbx_named_default() -> None:
    settings = load_settings(ami_host="10.1.1.1", ami_port=5040, ami_secret="s")
    (pbx,) = settings.pbx_list().pbxes
    assert (pbx.name, pbx.ami_host, pbx.ami_port, pbx.ami_secret) == (
        DEFAULT_PBX,
        "10.1.1.1",
        5040,
        "s",
    )
    several = load_settings(pbxes=json.dumps(TWO)).pbx_list()
    assert several.names == ("a", "b") and several.primary.name == "a"


@pytest.mark.parametrize(
    ("pbxes", "says"),
    [
        ("[", "not valid JSON"),
        ("[]", "expected a list of PBXes"),
        ('[{"name": "a b"}]', "PBX #1: name"),
        ('[{"name": "a"}, {"name": "a"}]', "listed twice"),
        ('[{"name": "a", "ami_port": 70000}]', "ami_port"),
        ('[{"name": "a", "secret": "x"}]', "unknown field(s) secret"),
        ('[{"name": "a", "dial": "Local/{exten.__class__}@x"}]', "dial: use {interface}"),
        ('[{"name": "a", "dial": "Local/201@x"}]', "dial: use {interface}"),
        ('[{"name": "a", "dial_from": {"c": "Local/{exten}@x"}}]', "unknown PBX 'c'"),
        ("/nonexistent/pbxes.toml", "cannot read"),
    ],
)
def test_a_bad_list_is_refused_naming_the_variable_and_the_field(pbxes: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(pbxes=pbxes)
    assert "TRUBKA_PBXES" in str(caught.value) or "pbxes" in str(caught.value)
    assert says in str(caught.value)


def test_a_refused_list_is_not_echoed_it_may_hold_secrets() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(pbxes='[{"name": "a", "ami_secret": "hunter2", "ami_port": 0}]')
    assert "ami_port" in str(caught.value) and "hunter2" not in str(caught.value)


def test_dial_strings_across_pbxes() -> None:
    pbxes = PbxList(parse_pbxes(json.dumps(TWO)))
    # the same PBX dials the phone itself
    assert pbxes.dial_string("PJSIP/201", on="b", asking="b") == "PJSIP/201"
    # a dials b's phones through `dial_from.a`, any other PBX through `dial`
    assert pbxes.dial_string("PJSIP/201", on="b", asking="a") == "PJSIP/201@trunk-b"
    assert pbxes.dial_string("Local/201@from-queue/n", on="b", asking="a") == "PJSIP/201@trunk-b"
    assert pbxes.dial_string("PJSIP/101", on="a", asking="b") == "PJSIP/101@trunk-a"
    # nothing unsafe goes into a dial string
    assert pbxes.dial_string("PJSIP/2&01", on="b", asking="a") is None
    assert interface_parts("garbage") is None
    unreachable = PbxList((PbxConfig(name="a"), PbxConfig(name="b")))
    assert unreachable.dial_string("PJSIP/201", on="b", asking="a") is None
    with pytest.raises(PbxListError):
        PbxList(())


def _state(pbx: str, *members: str) -> CallState:
    state = CallState(config=ReducerConfig(pbx=pbx))
    for interface in members:
        agent = Agent(key=interface)
        agent.memberships["support"] = Membership(
            "support", interface, interface, interface, 1, False, "", False, 0, 0, 0
        )
        state.agents[interface] = agent
    return state


def test_an_agents_phone_is_on_the_pbx_that_has_seen_it() -> None:
    states = {"a": _state("a", "PJSIP/101"), "b": _state("b", "PJSIP/201")}
    states["a"].agents["PJSIP/201"] = Agent(key="PJSIP/201")  # learned from the CRM only
    routing = PbxRouting(PbxList(parse_pbxes(json.dumps(TWO))), states)
    assert routing.home_of("PJSIP/201", "a") == "b"
    assert routing.home_of("PJSIP/101", "b") == "a"
    assert routing.dial("PJSIP/201", "a") == "PJSIP/201@trunk-b"
    assert routing.dial("PJSIP/101", "a") == "PJSIP/101"
    assert routing.known(None) == routing.known("zzz") == "a"
    now = time.time()
    assert routing.state("PJSIP/201", now, "a") == states["b"].agent_state("PJSIP/201", now)
    # a PBX that cannot dial the other's phones sees its agents as unavailable
    closed = PbxRouting(PbxList((PbxConfig(name="a"), PbxConfig(name="b"))), states)
    assert closed.state("PJSIP/201", now, "a") is AgentState.UNAVAILABLE
    assert closed.state("PJSIP/201", now, "b") is not AgentState.UNAVAILABLE


def test_a_fastagi_request_names_its_pbx() -> None:
    asked = AgiRequest({"agi_network_script": "route?pbx=b", "agi_request": "agi://h/route?pbx=b"})
    assert (asked.script, asked.pbx) == ("route", "b")
    by_request = AgiRequest({"agi_request": "agi://h:4573/route?pbx=a&x=1"})
    assert (by_request.script, by_request.pbx) == ("route", "a")
    assert AgiRequest({"agi_network_script": "route"}).pbx is None
