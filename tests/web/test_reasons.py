"""Routing reasons on pages: rendered in the reader's language from the key and values
stored with the call; calls stored without them show their English text."""

from __future__ import annotations

import html
from dataclasses import replace

from crm.call_records import CallStore
from routing.decision import Reason, ReasonKey
from routing.reasons import LANGUAGES as REASON_LANGUAGES
from tests.crm.kit_builders import call
from web.i18n import LANGUAGES
from web.templating import routing_reason

from .conftest import Api

OWNER = Reason(ReasonKey.OWNER_FREE, {"agent": "Петров <b>"})
SAID = "owner Петров <b>: responsible manager"


def test_every_page_language_has_reasons() -> None:
    assert set(LANGUAGES) <= set(REASON_LANGUAGES)


def test_a_stored_reason_in_each_language_and_the_text_of_older_calls() -> None:
    stored = {
        "routing_reason": SAID,
        "routing_reason_key": "owner_free",
        "routing_reason_values": {"agent": "Петров <b>"},
    }
    assert routing_reason(stored, "ru") == "ответственный Петров <b>"
    assert routing_reason(stored, "en") == SAID
    older = {"routing_reason": SAID, "routing_reason_key": None, "routing_reason_values": None}
    assert routing_reason(older, "ru") == SAID
    assert routing_reason({"routing_reason": None}, "ru") is None


async def test_call_page_shows_the_stored_reason_in_the_readers_language(api: Api) -> None:
    routed = replace(call("+79161234567"), routing_reason=SAID)
    older = replace(call("+79161234567"), routing_reason=SAID)
    own = replace(call("+79161234567"), routing_reason="sent by the night script")

    def lookup(linkedid: str, said_as: str | None) -> Reason | None:
        # The router's memo: the decisions of `routed` and `own` (whose dialplan then set
        # a ROUTE_REASON of its own: the remembered decision is not what it said).
        if linkedid in (routed.linkedid, own.linkedid) and said_as == SAID:
            return OWNER
        return None

    await CallStore(api.services.db, routing_reason=lookup).save([routed, own])
    await CallStore(api.services.db).save([older])  # stored before reasons had keys
    rows = {row.linkedid: row for row in await api.services.calls.list()}
    stored = rows[routed.linkedid]
    assert (stored.routing_reason, stored.routing_reason_key) == (SAID, "owner_free")
    assert stored.routing_reason_values == {"agent": "Петров <b>"}
    assert stored.to_json()["routing_reason_key"] == "owner_free"
    assert rows[older.linkedid].routing_reason_key is None
    assert rows[own.linkedid].routing_reason_key is None

    async with api.signed_in("boss", "supervisor") as (client, _user):
        shown = {}
        for lang in ("ru", "en"):
            page = await client.get(f"/calls/{stored.id}")
            assert page.status_code == 200, page.text
            shown[lang] = page.text
            for other in (older, own):
                text = (await client.get(f"/calls/{rows[other.linkedid].id}")).text
                assert html.escape(other.routing_reason or "") in text, (lang, other)
            token = _csrf_from(page.text)
            switched = await client.post("/language", data={"lang": "en", "csrf_token": token})
            assert switched.status_code == 303
    assert html.escape("ответственный Петров <b>") in shown["ru"]
    assert html.escape(SAID) not in shown["ru"]
    assert html.escape(SAID) in shown["en"]
    assert "Петров <b>" not in shown["ru"] + shown["en"]  # escaped like any CRM name


def _csrf_from(page: str) -> str:
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]
