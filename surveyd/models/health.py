"""Pipeline health: problems surveyd found in its own running, and the inbound requests it refused."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base, utcnow


class HealthIssue(Base):
    """One problem, open from when a check first saw it until a check no longer does."""

    __tablename__ = "health_issues"
    __table_args__ = (sa.Index("ix_health_issues_open", "kind", "key", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))  # dispatch_stalled, failure_rate, credentials, ...
    key: Mapped[str] = mapped_column(sa.String(64))  # what it is about: a channel, a survey id, a webhook
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    notified: Mapped[int] = mapped_column(default=0)  # admins told of it


class WebhookRejection(Base):
    """Inbound webhook requests refused for their signature, counted per source and minute (one row a minute, not
    one a request, so a flood of forged requests cannot fill the database)."""

    __tablename__ = "webhook_rejections"

    source: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # twilio, telegram
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
