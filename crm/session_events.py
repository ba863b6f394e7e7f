"""The sign-in book: when each user signed in to Trubka and out of it, and when an
agent's phone joined or left the queues — what the agent sessions report counts.

`SessionStore` writes `panel_sign_in` when it creates a session and `panel_sign_out`
when one is deleted (the user signed out, signed in again over it, or was deactivated
or given a new password); a session that expires is not a sign-out.
`supervisor.agent_sessions` writes `queue_login` and `queue_logout` from the agents'
state changes. Rows are only added, never changed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.database import Base, UTCDateTime


class SessionEventKind(StrEnum):
    PANEL_SIGN_IN = "panel_sign_in"
    PANEL_SIGN_OUT = "panel_sign_out"
    QUEUE_LOGIN = "queue_login"
    QUEUE_LOGOUT = "queue_logout"


class AgentSessionEvent(Base):
    __tablename__ = "agent_session_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(Integer)  # panel events
    agent: Mapped[str] = mapped_column(String(128), default="")  # queue events: interface key

    __table_args__ = (
        Index("ix_agent_session_events_at", "at"),
        Index("ix_agent_session_events_user_id_at", "user_id", "at"),
    )
