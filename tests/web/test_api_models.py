"""The API's typed responses: OpenAPI names a model for each body, and the models change
no byte of the JSON the services build (key order, nulls, numbers, open-ended keys)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx

from crm.call_list import CallFilter, CallQuery
from crm.call_records import CallStore
from crm.models import Role
from recordings.views import calls_in, fill_recordings
from routing.decision import Reason, ReasonKey
from tests.crm.kit_builders import actor, call, store_calls
from tests.web.conftest import Api

# The resources whose every GET under /api/ must document its body.
TYPED = (
    "/api/session",
    "/api/contacts",
    "/api/companies",
    "/api/deals",
    "/api/pipelines",
    "/api/tasks",
    "/api/notes",
    "/api/users",
    "/api/calls",
    "/api/card",
    "/api/search",
)


def _ref(schema: dict[str, Any]) -> str | None:
    """The model a response schema names (`$ref`, or each `$ref` of an `anyOf`)."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    refs = [_ref(part) for part in schema.get("anyOf", ())]
    return " | ".join(r for r in refs if r) if refs and all(refs) else None


def _json_bytes(payload: Any) -> bytes:
    """What FastAPI's JSONResponse writes for `payload`."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def test_every_typed_get_route_names_its_response_model(api: Api) -> None:
    async with api.client() as client:
        spec = (await client.get("/api/openapi.json")).json()
    checked = []
    for path, operations in spec["paths"].items():
        if not path.startswith(TYPED) or path.endswith("/recording") or "/recording/" in path:
            continue  # the recording routes are files and players (recordings.api)
        for method, operation in operations.items():
            if method not in {"get", "post", "patch"}:
                continue
            responses = operation["responses"]
            ok = responses.get("200") or responses.get("201")
            assert ok is not None, (method, path)
            schema = ok["content"]["application/json"]["schema"]
            assert _ref(schema), (method, path, schema)
            if path != "/api/session":
                for status in ("404", "409", "422"):
                    error = responses[status]["content"]["application/json"]["schema"]
                    assert _ref(error) == "ErrorView", (method, path, status)
            if method == "get":
                checked.append(path)
    assert len(checked) >= 20, checked
    schemas = spec["components"]["schemas"]
    call_fields = list(schemas["CallRecordView"]["properties"])
    assert call_fields[:2] == ["id", "linkedid"]
    assert {"source", "routing_reason_key", "routing_reason_values", "recording"} <= set(
        call_fields
    )
    assert call_fields[-4:] == ["source", "company_id", "agent", "recording"]
    at = call_fields.index("agents")
    assert call_fields[at : at + 3] == ["agents", "agent_aliases", "contact_id"]
    assert list(schemas["ErrorView"]["properties"]) == ["code", "message", "field"]
    assert (
        _ref(
            spec["paths"]["/api/users/{user_id}"]["get"]["responses"]["200"]["content"][
                "application/json"
            ]["schema"]
        )
        == "UserRow | UserView | UserSummary"
    )


async def test_the_models_change_no_byte_of_what_the_services_build(api: Api) -> None:
    """Each body is exactly the service's dict as JSON, nulls, key order, custom fields,
    routing reason values and recordings included."""
    db = api.services.db
    async with api.signed_in("root", "admin") as (admin, me), api.signed_in("ag") as (ag, agent):
        operator = await api.user("op", interfaces=("Local/101@agents/n",))
        routed = dataclasses.replace(
            call("+74951234567", ago=50),
            routed_by="last-agent",
            routing_reason="the last agent",
            recording_file="/rec/a.wav",
            agents=("Local/101@agents/n",),
            agent_aliases=("PJSIP/101",),
        )
        why = Reason(ReasonKey.PREVIOUS_MANAGER_FREE, {"agent": "Op", "ago": 30})
        await CallStore(db, lambda linkedid, text: why).save([routed])
        await store_calls(db, call("+74951234567", answered=False, ago=90))
        company = (
            await admin.post(
                "/api/companies", json={"name": "Ромашка", "custom": {"k": 1, "z": None}}
            )
        ).json()
        contact = (
            await admin.post(
                "/api/contacts",
                json={
                    "name": "Иван",
                    "phones": ["+74951234567", {"number": "+74951234599", "label": "x"}],
                    "company_id": company["id"],
                    "custom": {"ИНН": "77", "n": 1.5, "none": None},
                },
            )
        ).json()
        deal = (
            await admin.post("/api/deals", json={"title": "Поставка", "amount": "10.50"})
        ).json()
        task = (
            await admin.post("/api/tasks", json={"title": "Позвонить", "contact_id": contact["id"]})
        ).json()
        note = (
            await admin.post("/api/notes", json={"body": "<b>", "contact_id": contact["id"]})
        ).json()
        crm = api.crm
        boss = actor(me.id, Role.ADMIN)
        card = await crm.cards.for_number("+74951234567", timeline=10)
        await fill_recordings(db, calls_in(card))
        timeline = await crm.timeline.contact(contact["id"], before=None, limit=50)
        await fill_recordings(db, calls_in(timeline))
        calls = await CallQuery(db, crm.directory).list(me, CallFilter(), before=None, limit=50)
        await fill_recordings(db, calls["items"])
        one_call = await CallQuery(db, crm.directory).get(me, calls["items"][0]["id"])
        await fill_recordings(db, [one_call])
        by_name = await crm.search.search("Ромашка", boss)
        by_number = await crm.search.search("84951234567", boss)
        assert by_name["companies"] and by_number["contacts"]
        expected: list[tuple[httpx.AsyncClient, str, Any]] = [
            (admin, f"/api/contacts/{contact['id']}", await crm.contacts.get(contact["id"], boss)),
            (
                admin,
                f"/api/companies/{company['id']}",
                await crm.companies.get(company["id"], boss),
            ),
            (admin, f"/api/deals/{deal['id']}", await crm.deals.get(deal["id"])),
            (admin, f"/api/tasks/{task['id']}", await crm.tasks.get(task["id"], boss)),
            (admin, f"/api/notes/{note['id']}", await crm.notes.get(note["id"])),
            (admin, "/api/pipelines", {"items": await crm.pipelines.list()}),
            (
                admin,
                f"/api/deals/{deal['id']}/history",
                {"items": await crm.deals.history(deal["id"])},
            ),
            (admin, "/api/card?number=84951234567&timeline=10", card),
            (admin, f"/api/contacts/{contact['id']}/timeline", timeline),
            (admin, "/api/calls", calls),
            (admin, f"/api/calls/{one_call['id']}", one_call),
            (admin, "/api/search?q=Ромашка", by_name),
            (admin, "/api/search?q=84951234567", by_number),
            (admin, "/api/session", {"user": me.to_json()}),
            (
                ag,
                f"/api/users/{operator.id}",
                {k: operator.to_json()[k] for k in ("id", "name", "role", "active")},
            ),
            (ag, f"/api/users/{agent.id}", agent.to_json()),
        ]
        assert card["last_calls"] and card["last_calls"][0]["routing_reason_values"] == why.values
        assert any(c["recording"] for c in calls["items"])
        assert [c["agent_aliases"] for c in calls["items"]] == [["PJSIP/101"], []]
        assert any(item["kind"] == "call" for item in timeline["items"])
        for client, url, payload in expected:
            response = await client.get(url)
            assert response.status_code == 200, (url, response.text)
            assert response.content == _json_bytes(payload), url


async def test_error_bodies_keep_their_extra_keys(api: Api) -> None:
    async with api.signed_in("root", "admin") as (admin, _):
        missing = await admin.get("/api/contacts/999999")
        assert missing.status_code == 404
        assert missing.json() == {"code": "not_found", "message": "contact 999999 not found"}
        contact = (await admin.post("/api/contacts", json={"name": "A"})).json()
        await admin.patch(f"/api/contacts/{contact['id']}", json={"version": 1, "name": "B"})
        stale = await admin.patch(
            f"/api/contacts/{contact['id']}", json={"version": 1, "name": "C"}
        )
        assert stale.status_code == 409 and stale.json()["current_version"] == 2
