"""The call store: one row per call, whoever reports it and however often."""

from __future__ import annotations

from dataclasses import replace

from crm.call_records import CallStore
from crm.database import Database
from kernel.call_record import SOURCE_BACKFILL
from tests.crm.kit_builders import call


async def test_the_same_call_twice_in_one_batch_is_stored_once(db: Database) -> None:
    # A live record and its backfilled twin can meet in one batch of the call writer;
    # PostgreSQL refuses an upsert that touches a row twice in one statement.
    record = call("+79161112233", ago=60)
    twin = replace(record, source=SOURCE_BACKFILL, ended_during_outage=False)
    store = CallStore(db)
    assert await store.insert([record, twin]) == {record.linkedid}
    stored = await store.get(record.linkedid)
    assert stored is not None and stored.source == "ami"  # the first one won


async def test_the_books_complete_a_call_a_resync_closed_blind(db: Database) -> None:
    blind = replace(call("+79161112244", ago=60), ended_during_outage=True, talk_seconds=0.0)
    store = CallStore(db)
    await store.insert([blind])
    books = replace(blind, source=SOURCE_BACKFILL, ended_during_outage=False, talk_seconds=42.0)
    assert await store.insert([books]) == {blind.linkedid}
    stored = await store.get(blind.linkedid)
    assert stored is not None
    assert (stored.source, stored.talk_seconds, stored.ended_during_outage) == (
        "backfill",
        42.0,
        False,
    )
    again = replace(books, talk_seconds=1.0)
    assert await store.insert([again]) == set()  # a whole record stays as it is
