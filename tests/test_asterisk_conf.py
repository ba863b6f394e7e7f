"""asterisk_conf/ keeps the lab's lines, Trubka's contract and the least AMI rights."""

from __future__ import annotations

import re
from pathlib import Path

from routing.decision import Decision, RoutedBy
from telephony.agi_server import route_variables
from tests.kit_traces import TRACES
from trubka.settings import Settings
from web.api.route import hash_fields

CONF = Path(__file__).resolve().parents[1] / "asterisk_conf"
LAB = TRACES / "lab-config"


def context(path: Path, name: str) -> list[str]:
    """The lines of one context, comments and blank lines dropped."""
    lines: list[str] = []
    inside = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = (
            raw.split(";", 1)[0].rstrip()
            if not raw.lstrip().startswith("same")
            else _strip_comment(raw)
        )
        if line.startswith("["):
            inside = line.startswith(f"[{name}]")
            continue
        if inside and line.strip():
            lines.append(line.strip())
    return lines


def _without_transfer_option(line: str) -> str:
    """The sample lets the agent transfer the call they answered (`t` of Dial and Queue,
    for the card's attended transfer); the lab's lines have no such option."""
    return line.replace("Queue(${QUEUE_NAME},t,", "Queue(${QUEUE_NAME},,").replace(
        "${ROUTE_TIMEOUT})},t)", "${ROUTE_TIMEOUT})})"
    )


def _strip_comment(line: str) -> str:
    # `;` starts a comment in Asterisk configs; none of our dialplan lines has one inside.
    return line.split(" ;", 1)[0].rstrip()


def test_the_lab_lines_are_kept_in_order() -> None:
    lab = context(LAB / "extensions.conf", "from-trunk-trubka")
    sample = context(CONF / "extensions.conf", "from-trunk-trubka")
    kept = [
        line
        for line in lab
        if "CNUM" not in line
        and "CNAME" not in line
        and not line.startswith("exten =>")  # lab simulation
    ]
    unlabel = re.compile(r"^same => n\([\w-]+\),")
    bare = [unlabel.sub("same => n,", _without_transfer_option(line)) for line in sample]
    positions = [bare.index(unlabel.sub("same => n,", line)) for line in kept]
    assert positions == sorted(positions), "the lab's lines must keep their order"
    assert "same => n,AGI(agi://127.0.0.1:4573/route)" in sample
    assert Settings.model_fields["agi_port"].default == 4573


def test_every_contract_variable_is_used_by_the_dialplan() -> None:
    text = (CONF / "extensions.conf").read_text(encoding="utf-8")
    decision = Decision(
        RoutedBy.PREVIOUS_MANAGER,
        "r",
        "support",
        agent="PJSIP/101",
        ring_seconds=20,
        wait_seconds=5,
        priority=3,
        goto="x,s,1",
        contact_id=1,
        contact_name="n",
    )
    for name, _ in route_variables(decision):
        assert name in text, name
    curl = "\n".join(context(CONF / "extensions.conf", "from-trunk-trubka-curl"))
    for key in hash_fields(decision):
        assert f"HASH(route,{key})" in curl, key


SECOND_HOST_IF = (
    'same => n,GotoIf($["${AGISTATUS}" != "FAILURE" | "${TRUBKA_AGI_2}" = ""]?agi-done)'
)


def test_the_fallbacks_are_in_place() -> None:
    sample = context(CONF / "extensions.conf", "from-trunk-trubka")
    assert (
        sample.index("same => n,Set(AGIEXITONHANGUP=yes)")
        < sample.index("same => n,Set(TIMEOUT(absolute)=${TRUBKA_BUDGET})")
        < sample.index("same => n,AGI(agi://127.0.0.1:4573/route)")
        < sample.index(SECOND_HOST_IF)
        < sample.index("same => n,AGI(${TRUBKA_AGI_2})")
        < sample.index("same => n(agi-done),Set(TIMEOUT(absolute)=0)")
    )
    assert "exten => T,1,NoOp(Trubka did not answer within ${TRUBKA_BUDGET} s: queue)" in sample
    assert "same => n,Goto(${TRUBKA_DID},route)" in sample
    assert any(line.startswith("same => n(queue),Queue(${QUEUE_NAME},t,,,120)") for line in sample)
    readme = (CONF / "README.md").read_text(encoding="utf-8")
    for line in (
        "Set(TIMEOUT(absolute)=${TRUBKA_BUDGET})",
        "AGI(agi://127.0.0.1:4573/route)",
        "exten => T,1",
        SECOND_HOST_IF.removeprefix("same => "),
        "AGI(${TRUBKA_AGI_2})",
    ):
        assert line in readme


def test_the_queues_are_the_labs() -> None:
    assert context(CONF / "queues.conf", "support") == context(LAB / "queues.conf", "support")
    assert context(CONF / "queues.conf", "sales") == context(LAB / "queues.conf", "sales")


def _privileges() -> dict[str, set[str]]:
    """Each event's classes, as every event in the traces says in `Privilege:`."""
    out: dict[str, set[str]] = {}
    for path in TRACES.glob("*.ami"):
        text = path.read_bytes().decode("utf-8", "replace")
        for event, privilege in re.findall(r"Event: (\w+)\r\nPrivilege: ([^\r]+)", text):
            out.setdefault(event, set()).update(p for p in privilege.split(",") if p != "all")
    return out


def _action_classes() -> dict[str, set[str]]:
    """Each action's classes, from ListCommands in trace 06."""
    text = (TRACES / "06-ami-actions.ami").read_bytes().decode("utf-8", "replace")
    out = {}
    for action, privilege in re.findall(r"\r\n(\w+): [^\r]*\(Priv: ([^)]*)\)", text):
        out[action] = {p for p in privilege.split(",") if p not in ("all", "<none>")}
    return out


def _user(option: str) -> set[str]:
    text = (CONF / "manager.conf").read_text(encoding="utf-8")
    match = re.search(rf"^{option} = ([a-z,]+)", text, re.M)
    assert match
    return set(match.group(1).split(","))


def test_manager_conf_reads_every_event_trubka_parses_and_nothing_more() -> None:
    from telephony.events import INTERESTING

    privileges = _privileges()
    read = _user("read")
    needed: set[str] = set()
    for event in INTERESTING:
        if event in privileges:  # list items (QueueMember …) answer actions: no class needed
            assert privileges[event] & read, f"{event} needs one of {privileges[event]}"
            needed |= privileges[event] & read
    assert needed == read, f"granted but not needed: {read - needed}"


def test_manager_conf_allows_the_actions_trubka_sends() -> None:
    classes = _action_classes()
    write = _user("write")
    actions = [
        "Ping",
        "CoreSettings",
        "CoreShowChannels",
        "Status",
        "DeviceStateList",
        "Getvar",
        "Setvar",
        "Hangup",
        "StopMixMonitor",
        "Redirect",
        "BlindTransfer",
        "Atxfer",
        "Bridge",
        "Originate",
        "QueueStatus",
        "QueueSummary",
        "QueueAdd",
        "QueueRemove",
        "QueuePause",
        "QueuePenalty",
    ]
    for action in actions:
        assert action in classes, action
        assert not classes[action] or classes[action] & write, (
            f"{action} needs one of {classes[action]}"
        )
    assert "command" not in write and "system" not in write and "config" not in write


PJSIP_LAB = TRACES / "lab-config-pjsip"  # the lab of the PJSIP traces (Asterisk 22.10.1)


def test_the_pjsip_variant_is_the_labs() -> None:
    for queue in ("support", "sales"):
        assert context(CONF / "queues-pjsip.conf", queue) == context(
            PJSIP_LAB / "queues.conf", queue
        )
    members = [x for x in context(CONF / "queues-pjsip.conf", "support") if "member" in x]
    assert members == [f"member => PJSIP/{n},0,Agent {n}" for n in (201, 202, 203)]
    trunk = "\n".join(context(CONF / "pjsip.conf", "trunk"))
    assert "context = from-trunk-trubka" in trunk and "type = identify" in trunk


def test_click_to_call_and_the_phones_have_their_context() -> None:
    default = Settings.model_fields["click_to_call_context"].default
    outbound = context(CONF / "extensions.conf", default)
    assert outbound, f"[{default}] (TRUBKA_CLICK_TO_CALL_CONTEXT's default) is missing"
    assert "same => n,Dial(PJSIP/${EXTEN}@trunk,60)" in outbound
    assert "same => n,MixMonitor(${RECDIR}/${UNIQUEID}.wav,b)" in outbound
    phones = "\n".join(context(CONF / "pjsip.conf", "agent-endpoint"))
    assert f"context = {default}" in phones


def test_the_dialplan_records_where_trubka_looks() -> None:
    globals_ = context(CONF / "extensions.conf", "globals")
    recdir = next(line for line in globals_ if line.startswith("RECDIR"))
    assert recdir.split("=", 1)[1].strip() == str(
        Settings.model_fields["recordings_pbx_dir"].default
    )


def test_asterisk_stamps_its_events() -> None:
    text = (CONF / "manager.conf").read_text(encoding="utf-8")
    assert re.search(r"^timestampevents = yes", text, re.M)


def test_the_call_controls_have_their_contexts() -> None:
    """Hold sends the caller to `s` and the agent to `agent` of TRUBKA_HOLD_CONTEXT; a
    transfer to a queue dials the queue's name in TRUBKA_TRANSFER_QUEUE_CONTEXT; a
    colleague's extension is dialled in TRUBKA_TRANSFER_CONTEXT."""
    fields = Settings.model_fields
    hold = "\n".join(context(CONF / "extensions.conf", str(fields["hold_context"].default)))
    assert "exten => s,1," in hold and "MusicOnHold()" in hold
    assert "exten => agent,1," in hold
    queues = "\n".join(
        context(CONF / "extensions.conf", str(fields["transfer_queue_context"].default))
    )
    assert "Queue(${EXTEN})" in queues
    colleagues = context(CONF / "extensions.conf", str(fields["transfer_context"].default))
    assert any("include => agents-internal" in line for line in colleagues)
