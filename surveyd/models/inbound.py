"""What providers and customers sent us, kept raw before anything acts on it, and chat conversations."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base, enum_column, utcnow
from surveyd.models.channel import Channel


class InboundMessage(Base):
    """One webhook delivery (a customer's message or a provider's status), stored once per provider id."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        sa.UniqueConstraint("channel", "kind", "provider_event_id"),
        # What inbound recovery looks for every 30 s in every relay: only the few rows never acted on.
        sa.Index("ix_inbound_messages_unprocessed", "received_at",
                 postgresql_where=sa.text("processed_at IS NULL"), sqlite_where=sa.text("processed_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    kind: Mapped[str] = mapped_column(sa.String(20))  # "message" or "status"
    provider_event_id: Mapped[str] = mapped_column(sa.String(120))
    sender: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    dispatch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dispatches.id", ondelete="SET NULL"), index=True)
    # A delivery that was stored but not acted on (an error after the commit, a poll that moved on) is
    # tried again by services/answers/inbound_recovery.py; these count and explain those tries.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.String(200))


class Conversation(Base):
    """The chat about one dispatch: how many unclear replies it has had (the rest follows from the response)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(sa.ForeignKey("dispatches.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    unclear_replies: Mapped[int] = mapped_column(default=0)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
