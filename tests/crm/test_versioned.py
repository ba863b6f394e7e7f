"""Versioned records: one helper for 404 and 409, and mixins that leave the schema as the
migrations made it."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Integer
from sqlalchemy.engine import Connection

from crm.contacts import ContactService
from crm.database import Base, Database, UTCDateTime
from crm.errors import Conflict, NotFound
from crm.models import Company, Contact, Deal, Note, Pipeline, Task, User
from crm.notes import NOTES, NoteService
from crm.schemas import ContactCreate, NoteCreate, NoteUpdate
from tests.crm.kit_builders import SYSTEM as ADMIN


async def _note(db: Database) -> dict[str, Any]:
    contact = await ContactService(db).create(ContactCreate(name="Анна"), ADMIN)
    return await NoteService(db).create(NoteCreate(body="first", contact_id=contact["id"]), ADMIN)


async def test_a_missing_record_is_not_found(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(NotFound) as missing:
            await NOTES.get(session, 4242)
    assert missing.value.message == "note 4242 not found"
    with pytest.raises(NotFound):
        await NoteService(db).update(4242, NoteUpdate(body="x", version=1), ADMIN)


async def test_a_stale_version_is_refused_with_the_current_one(db: Database) -> None:
    notes = NoteService(db)
    note = await _note(db)
    changed = await notes.update(note["id"], NoteUpdate(body="second", version=1), ADMIN)
    assert changed["version"] == 2
    with pytest.raises(Conflict) as stale:
        await notes.update(note["id"], NoteUpdate(body="third", version=1), ADMIN)
    assert stale.value.message == "this note was changed by someone else"
    assert stale.value.current_version == 2
    assert (await notes.get(note["id"]))["body"] == "second"


async def test_a_writer_that_saved_meanwhile_turns_our_flush_into_a_conflict(
    db: Database,
) -> None:
    notes = NoteService(db)
    note = await _note(db)
    with pytest.raises(Conflict) as stale:
        async with NOTES.updating(db, note["id"], 1) as (session, row):
            # read at version 1; someone else saves before we flush
            await notes.update(note["id"], NoteUpdate(body="theirs", version=1), ADMIN)
            row.body = "ours"
            await session.flush()
    assert stale.value.message == "this note was changed by someone else"
    assert (await notes.get(note["id"]))["body"] == "theirs"


@pytest.mark.parametrize("model", [User, Company, Contact, Note, Task, Deal, Pipeline])
def test_the_version_column_is_the_optimistic_lock(model: Any) -> None:
    version = model.__table__.c.version
    assert model.__mapper__.version_id_col is version
    assert isinstance(version.type, Integer) and not version.nullable
    assert version.default is not None and version.default.arg == 1
    for name in ("created_at", "updated_at") if model is not Pipeline else ("created_at",):
        column = model.__table__.c[name]
        assert isinstance(column.type, UTCDateTime) and not column.nullable
        assert column.default is None and column.server_default is None


async def test_the_models_match_the_migrated_schema(db: Database) -> None:
    """What Alembic's autogenerate would write: nothing for the tables the models
    declare (the migrations also make tables and indexes the models do not declare:
    FTS tables, expression indexes, other features' tables)."""

    def compare(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(compare)
    declared_indexes = {ix.name for table in Base.metadata.tables.values() for ix in table.indexes}
    unexpected = [
        d
        for d in diffs
        if not (
            isinstance(d, tuple)
            and (
                d[0] == "remove_table"
                or (d[0] == "remove_index" and d[1].name not in declared_indexes)
            )
        )
    ]
    assert unexpected == []
