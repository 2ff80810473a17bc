"""Alerts raised by negative answers, worked by support agents."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, enum_column, utcnow
from surveyd.models.contact import Contact
from surveyd.models.response import Response


class AlertStatus(str, enum.Enum):
    """Where an agent stands with an alert."""

    OPEN = "open"
    CLAIMED = "claimed"
    CONTACTED = "contacted"
    RESOLVED = "resolved"


class Alert(Base):
    """A negative answer that needs a person; at most one per response."""

    __tablename__ = "alerts"
    __table_args__ = (sa.Index("ix_alerts_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"), unique=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus), default=AlertStatus.OPEN)
    reasons: Mapped[list[Any]]
    assignee: Mapped[str | None] = mapped_column(sa.String(254))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None]

    response: Mapped[Response] = relationship()
    contact: Mapped[Contact] = relationship()
