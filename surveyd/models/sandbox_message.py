"""Messages the sandbox delivered instead of a real provider."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base, enum_column, utcnow


class OutboundChannel(str, enum.Enum):
    """Every way a message leaves surveyd: the customer channels, and agents' Slack and integrators' webhooks."""

    SMS = "sms"
    EMAIL = "email"
    TELEGRAM = "telegram"
    WEB = "web"
    SLACK = "slack"
    WEBHOOK = "webhook"


class SandboxMessage(Base):
    """One outbound message as its recipient would have seen it.

    `channel` takes a Channel (both enums share their values, so either compares equal), or slack/webhook for
    an HTTP POST that was kept instead of made: then `text` is the exact body and extra["http_headers"] the
    headers it would have carried. extra["audience"] is "agent" for what agents receive.
    """

    __tablename__ = "sandbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dispatches.id", ondelete="CASCADE"), index=True)
    # A VARCHAR without a CHECK constraint since 0001, so slack and webhook need no migration.
    channel: Mapped[OutboundChannel] = mapped_column(enum_column(OutboundChannel))
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str | None] = mapped_column(sa.String(300))
    text: Mapped[str] = mapped_column(sa.Text)
    html: Mapped[str | None] = mapped_column(sa.Text)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
