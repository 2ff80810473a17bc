"""Touchpoint events reported by integrators."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, utcnow
from surveyd.models.contact import Contact
from surveyd.models.touchpoint import Touchpoint


class Event(Base):
    """One touchpoint that happened to one contact, with the first answer given for it."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("touchpoints.id"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    request_hash: Mapped[str | None] = mapped_column(sa.String(64))
    response_body: Mapped[str | None] = mapped_column(sa.Text)

    touchpoint: Mapped[Touchpoint] = relationship()
    contact: Mapped[Contact] = relationship()
