"""A blind transfer from the card on the real Asterisk 22.10.1 of the lab kit: AMI
`BlindTransfer` of the agent's channel sends the carrier's caller to a colleague's phone,
and the stored call names both agents and keeps the transfer in its steps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.asterisk.kit_lab import PASSWORD, LabPbx, TrubkaNode, node_fixture, wait_for

pytestmark = pytest.mark.asterisk


@pytest.fixture
def trubka_transfers(tmp_path: Any, pbx: LabPbx) -> Any:
    """`trubka serve` transferring to colleagues in the lab's `agents-pj` (20X: a phone)."""
    pbx.wait_idle()
    for node in node_fixture(tmp_path, pbx):
        node.stop()
        node.extra_env["TRUBKA_TRANSFER_CONTEXT"] = "agents-pj"
        node.start()
        yield node


def test_a_blind_transfer_from_the_card_reaches_the_colleague(
    pbx: LabPbx, trubka_transfers: TrubkaNode
) -> None:
    trubka = trubka_transfers
    base = f"http://127.0.0.1:{trubka.http_port}"
    pbx.phones.call("+79161230021", name="Анна", talk=10)
    with httpx.Client(base_url=base, timeout=10) as boss:
        assert (
            boss.post(
                "/api/session", json={"login": "supervisor", "password": PASSWORD}
            ).status_code
            == 200
        )

        def talking() -> dict[str, Any] | None:
            agents = boss.get("/api/live").json().get("agents", [])
            return next(
                (
                    a
                    for a in agents
                    if a.get("state") == "on_call"
                    and (a.get("current_call") or {}).get("state") == "talking"
                ),
                None,
            )

        agent = wait_for(talking, 30, "an agent talking to the caller")
    linkedid = agent["current_call"]["linkedid"]
    ext = agent["interface"].split("/", 1)[1]
    with httpx.Client(base_url=base, timeout=10) as http:
        signed = http.post("/api/session", json={"login": f"agent{ext}", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        targets = http.get(f"/api/calls/{linkedid}/transfer-targets").json()
        free = next(a for a in targets["agents"] if a["state"] == "available")
        done = http.post(
            f"/api/calls/{linkedid}/transfer",
            json={"target": {"kind": "agent", "user_id": free["user_id"]}, "mode": "blind"},
        )
        assert done.status_code == 200, done.text
    record = trubka.call(linkedid, timeout=40)
    assert record["source"] == "ami"  # the live record, not the books' (the stay ended early)
    assert record["agents"] == [f"PJSIP/{ext}", f"PJSIP/{free['extension']}"]
    detail = trubka.cli("calls", "--json", "--timeline", "--limit", "1000")
    line = next(x for x in detail.splitlines() if linkedid in x)
    assert "blind-transfer" in line and f"{free['extension']}@agents-pj" in line
    assert "transferred" in line
