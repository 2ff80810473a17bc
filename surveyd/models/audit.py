"""The audit log: every change staff or an API key made, kept apart from the things it names."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base, utcnow


class AuditEntry(Base):
    """Who changed what, when and from where. `target_id` is the row's id, never a person's name or address, and
    `detail` names the fields changed, not their values, so the log keeps no personal data of its own."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(254))  # "api_key:<id>:<name>" or "user:<id>:<email>"
    action: Mapped[str] = mapped_column(sa.String(48))  # "survey.created", "trigger.changed", "contact.exported"
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    origin: Mapped[str | None] = mapped_column(sa.String(64))  # the client's address, as the proxy told it
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
