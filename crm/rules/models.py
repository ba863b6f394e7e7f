"""The tables of the triggers (migration 0018_rules).

- `rules`: a rule — when (`event`), if (`conditions`), then (`actions`); `builtin` names
  a rule Trubka ships (the missed-call callback task), which admins may change, not delete.
- `rule_events`: the durable queue of events the rules look at, written in the
  transaction of the change that caused them; `depth` counts how many rule actions led
  to it (a chain is cut at `crm.rules.engine.MAX_DEPTH`).
- `rule_action_keys`: one row per action done, keyed by (rule, event, action index) and
  written in the transaction of the action itself: a replayed event skips what was done.
- `rules.schedule` (migration 0019_rule_schedules): when a `schedule.*` rule runs, and
  `schedule_day` the local day it last did (`crm.rules.schedule`).
- `rule_runs`: the log of every run — the event, each condition with the value it saw,
  each action's outcome and the errors; dry runs (`POST /api/rules/{id}/test`) are not
  stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, UTCDateTime

PENDING = "pending"
DONE = "done"
CUT = "cut"  # the chain was too deep: not run


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core INSERTs of many rows (no ORM bookkeeping per row)."""
    return cast(Table, model.__table__)


class Rule(Base):
    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    builtin: Mapped[str | None] = mapped_column(String(40), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(Integer)
    # a `schedule.*` rule's time (crm.rules.schedule) and the local day it last ran (0019)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    schedule_day: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (Index("ix_rules_event_enabled", "event", "enabled"),)


class RuleEvent(Base):
    __tablename__ = "rule_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    event: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact_id: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_rule_events_status_id", "status", "id"),)


class RuleActionKey(Base):
    __tablename__ = "rule_action_keys"

    rule_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    done_at: Mapped[datetime] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RuleRun(Base):
    __tablename__ = "rule_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(Integer)
    event_uid: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    matched: Mapped[bool] = mapped_column(Boolean)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    errors: Mapped[list[str]] = mapped_column(JSON, default=list)

    __table_args__ = (Index("ix_rule_runs_rule_id_id", "rule_id", "id"),)
