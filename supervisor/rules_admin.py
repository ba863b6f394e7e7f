"""Routing rules kept in the database: versions, who saved each, roll back, preview.

The rules document (``routing.document``: the same keys as the rules file of
``docs/routing.md``) is stored as a new row of ``routing_rules_versions`` on every save,
with the TOML text it was written as, who saved it and when. The newest version is in
force: saving checks the document first (a bad one raises
``routing.document.RulesDocumentError`` and changes nothing), then stores it and hands
the rules to the call router, so the next call (FastAGI or ``GET /api/route``) is
decided by them without a restart. A database without rules is seeded from
``TRUBKA_ROUTING_RULES`` (the file) at start-up; without a file the built-in defaults
apply until someone saves. Every save and roll back is written to the audit log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, Database, UTCDateTime
from crm.errors import Conflict, NotFound
from routing.decision import Decision
from routing.document import check, parse_text, to_toml
from routing.errors import RulesError
from routing.rules import RoutingRules
from supervisor.audit import Actor, AuditAction, AuditEntry, AuditLog
from telephony.records import iso
from telephony.router import CallRouter

log = logging.getLogger(__name__)

HISTORY_MAX = 200


class RulesVersionRow(Base):
    __tablename__ = "routing_rules_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(Integer)
    login: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(255))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(255), default="")


@dataclass(frozen=True, slots=True)
class StoredRules:
    version: int  # 0: nothing stored, the built-in defaults
    saved_at: datetime | None
    login: str | None
    user_name: str | None
    document: dict[str, Any]
    text: str
    note: str = ""

    def to_json(self, *, with_document: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "saved_at": iso(self.saved_at.timestamp()) if self.saved_at else None,
            "saved_by": self.login,
            "saved_by_name": self.user_name,
            "note": self.note,
        }
        if with_document:
            data["rules"] = self.document
            data["toml"] = self.text
        return data


DEFAULTS = StoredRules(0, None, None, None, {}, "")

SYSTEM = Actor(user_id=None, login="trubka", name="Trubka", role="system")


def _stored(row: RulesVersionRow) -> StoredRules:
    return StoredRules(
        row.version, row.saved_at, row.login, row.user_name, row.document, row.text, row.note
    )


class RulesAdmin:
    """The routing rules in force, their versions, and the router that uses them."""

    def __init__(
        self,
        db: Database,
        router: CallRouter,
        audit: AuditLog,
        *,
        region: str = "RU",
        seed_path: Path | None = None,
    ) -> None:
        self.db = db
        self.router = router
        self.audit = audit
        self.region = region
        self.seed_path = seed_path
        self.current: StoredRules = DEFAULTS

    async def load(self) -> StoredRules:
        """Put the newest stored rules in force; seed the database from the rules file
        when it has none."""
        async with self.db.session() as session:
            row = await session.scalar(
                select(RulesVersionRow).order_by(RulesVersionRow.version.desc()).limit(1)
            )
            stored = _stored(row) if row is not None else None
        if stored is None:
            if self.seed_path is None:
                self.current = DEFAULTS
                return self.current
            document, text = self._read_seed(self.seed_path)
            try:
                return await self.save(
                    SYSTEM, document=document, text=text, note=f"seeded from {self.seed_path.name}"
                )
            except Conflict:  # another node seeded it first
                return await self.load()
        try:
            self.router.rules = self._rules(stored.document)
        except RulesError:
            log.exception(
                "routing rules version %s no longer valid: kept the file's", stored.version
            )
            return self.current
        self.current = stored
        return stored

    def _read_seed(self, path: Path) -> tuple[dict[str, Any], str]:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".json":
            document = json.loads(text)
            return document, to_toml(document)
        document, _rules = parse_text(text, region=self.region)
        return document, text

    def _rules(self, document: dict[str, Any], text: str | None = None) -> RoutingRules:
        return check(document, region=self.region, text=text)

    def parse(
        self, *, document: dict[str, Any] | None = None, text: str | None = None
    ) -> tuple[dict[str, Any], str, RoutingRules]:
        """A document given as JSON or as TOML text, checked: (document, text, rules)."""
        if text is not None:
            document, rules = parse_text(text, region=self.region)
            return document, text, rules
        document = document or {}
        rules = self._rules(document)
        return document, to_toml(document), rules

    async def save(
        self,
        actor: Actor,
        *,
        document: dict[str, Any] | None = None,
        text: str | None = None,
        base_version: int | None = None,
        note: str = "",
        action: AuditAction = AuditAction.ROUTING_RULES,
    ) -> StoredRules:
        """Check, store as the next version, put in force, audit."""
        document, text, rules = self.parse(document=document, text=text)
        before = self.current.version
        async with self.db.transaction() as session:
            newest = await session.scalar(select(func.max(RulesVersionRow.version))) or 0
            if base_version is not None and base_version != newest:
                raise Conflict(
                    f"the routing rules were changed (version {newest}) since you read "
                    f"version {base_version}",
                    current_version=newest,
                )
            row = RulesVersionRow(
                version=newest + 1,
                saved_at=datetime.now(UTC),
                user_id=actor.user_id,
                login=actor.login[:64],
                user_name=actor.name[:255],
                document=document,
                text=text,
                note=note[:255],
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise Conflict(
                    "the routing rules were saved by someone else at the same time"
                ) from exc
            stored = _stored(row)
        self.router.rules = rules
        self.current = stored
        await self.audit.record(
            AuditEntry(
                action,
                actor,
                reason=f"version {before} → {stored.version}",
                detail=(note or "saved")[:500],
            )
        )
        return stored

    async def history(self, limit: int = 50) -> list[StoredRules]:
        """Newest first."""
        limit = max(1, min(limit, HISTORY_MAX))
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(RulesVersionRow).order_by(RulesVersionRow.version.desc()).limit(limit)
                )
            ).all()
        return [_stored(row) for row in rows]

    async def version(self, version: int) -> StoredRules:
        async with self.db.session() as session:
            row = await session.get(RulesVersionRow, version)
        if row is None:
            raise NotFound(f"routing rules version {version} not found")
        return _stored(row)

    async def rollback(self, actor: Actor, version: int) -> StoredRules:
        """A new version with the document of an older one."""
        old = await self.version(version)
        return await self.save(
            actor,
            document=old.document,
            text=old.text or None,
            note=f"rollback to version {version}",
        )

    async def preview(
        self,
        caller: str,
        did: str,
        *,
        at: datetime | None = None,
        document: dict[str, Any] | None = None,
        text: str | None = None,
    ) -> Decision:
        """The decision the router would make for this call (now, or `at`), with the
        rules in force or with a draft not saved yet."""
        rules = None
        if document is not None or text is not None:
            rules = self.parse(document=document, text=text)[2]
        return await self.router.decide(
            caller[:256], did[:64], at=at.timestamp() if at else None, rules=rules
        )
