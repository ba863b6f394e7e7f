"""docs/architecture.md names the interfaces exactly as the code has them."""

from __future__ import annotations

import re
from pathlib import Path

import click

from routing.decision import Decision, RoutedBy
from telephony.agi_server import route_variables
from telephony.records import CallRecord, Direction, Disposition
from trubka.cli import main
from trubka.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
BUILT, _, PLANNED = DOC.partition("## Planned, not built yet")
# Named by the contract, not built yet: listed only under "Planned, not built yet".
NOT_BUILT: tuple[str, ...] = ()


def test_every_setting_is_listed_and_every_listed_variable_exists() -> None:
    variables = {f"TRUBKA_{name.upper()}" for name in Settings.model_fields}
    section = BUILT.split("### Environment", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"`(TRUBKA_[A-Z0-9_]+)`", section))
    assert variables - listed == set(), "settings missing from docs/architecture.md"
    assert listed - variables == set(), "variables in docs/architecture.md Trubka does not read"
    for name in NOT_BUILT:
        assert name in PLANNED and name not in variables


def _commands(group: click.Group, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


def test_every_command_is_listed() -> None:
    for command in _commands(main, "trubka"):
        group, _, leaf = command.rpartition(" ")
        # a table row may list a group's sub-commands after the first: `trubka recordings
        # status`, `list`, `retry` …
        assert f"`{command}" in BUILT or (f"`{group} " in BUILT and f"`{leaf}" in BUILT), command


def test_the_call_record_fields() -> None:
    record = CallRecord(
        linkedid="1.1",
        direction=Direction.INBOUND,
        caller_number="+74951234567",
        caller_name=None,
        called_number="100",
        queue=None,
        agent_interface=None,
        agent_name=None,
        started_at=0.0,
        answered_at=None,
        ended_at=1.0,
        wait_seconds=1.0,
        talk_seconds=0.0,
        disposition=Disposition.ABANDONED,
    )
    block = BUILT.split("### Call record", 1)[1].split("```")[1]
    fields = set(re.findall(r'"([a-z_]+)":', block))
    assert fields == set(record.to_json())
    assert "|".join(d.value for d in Direction) in block
    assert "|".join(d.value for d in Disposition) in block
    for routed_by in RoutedBy:
        assert routed_by.value in block


def test_every_fastagi_variable_is_listed() -> None:
    decision = Decision(
        routed_by=RoutedBy.PREVIOUS_MANAGER,
        reason="Ivanova: talked 3 days ago",
        queue="support",
        agent="PJSIP/101",
        ring_seconds=20,
        wait_seconds=30,
        priority=5,
        goto="after-hours,s,1",
        contact_id=7,
        contact_name="Иван",
    )
    section = BUILT.split("### FastAGI", 1)[1].split("###", 1)[0]
    rows = re.findall(r"^\| `([A-Z_()a-z]+)` \|", section, flags=re.MULTILINE)
    assert rows == [name for name, _value in route_variables(decision)]


def test_every_websocket_message_type_is_listed() -> None:
    sent = set()
    for source in (
        "screenpop/notifier.py",
        "supervisor/feed.py",
        "web/ws.py",
        "trubka/node.py",
        "crm/rules/actions.py",
    ):
        text = (ROOT / source).read_text(encoding="utf-8")
        sent |= set(re.findall(r'"type": "([a-z_]+)"', text))
    section = BUILT.split("### WebSocket", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_]+)` \| (?!fields)", section, flags=re.MULTILINE))
    assert '{"type": "ping"}' in section  # what clients send
    assert sent - {"ping"} == listed
