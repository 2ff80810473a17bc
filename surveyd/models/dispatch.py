"""Dispatches: one survey to one contact on one channel, and their status history."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, enum_column, utcnow
from surveyd.models.channel import Channel
from surveyd.models.contact import Contact
from surveyd.models.survey import Survey, SurveyVersion
from surveyd.models.trigger import Trigger


class DispatchStatus(str, enum.Enum):
    """Where a dispatch stands; suppressed carries a reason."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"  # leased by a relay and handed to a task; nothing has reached a provider yet
    SENDING = "sending"  # claimed by a task that may already be talking to the provider
    UNKNOWN = "unknown"  # the provider may or may not have it: reconciled before any resend
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    ANSWERED = "answered"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"


class DispatchPurpose(str, enum.Enum):
    """Whether a dispatch is the first ask or the one reminder."""

    INVITATION = "invitation"
    REMINDER = "reminder"


class Dispatch(Base):
    """A survey bound for one contact on one channel at a due time."""

    __tablename__ = "dispatches"
    __table_args__ = (
        sa.Index("ix_dispatches_status_due_at", "status", "due_at"),
        sa.Index("ix_dispatches_survey_id_created_at", "survey_id", "created_at"),  # the funnel's periods
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"), index=True)
    trigger_id: Mapped[int | None] = mapped_column(sa.ForeignKey("triggers.id"))
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id"), index=True)
    survey_version_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_versions.id"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    purpose: Mapped[DispatchPurpose] = mapped_column(enum_column(DispatchPurpose), default=DispatchPurpose.INVITATION)
    status: Mapped[DispatchStatus] = mapped_column(enum_column(DispatchStatus))
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    locale: Mapped[str] = mapped_column(sa.String(16))
    token_nonce: Mapped[str] = mapped_column(sa.String(32), unique=True)
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]  # the survey page was first shown (web link opened, email score followed)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dispatches.id", ondelete="CASCADE"), index=True)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    lease_expires_at: Mapped[datetime | None]
    reconcile: Mapped[bool] = mapped_column(default=False)
    possible_duplicate: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    survey: Mapped[Survey] = relationship()
    survey_version: Mapped[SurveyVersion] = relationship()
    contact: Mapped[Contact] = relationship()
    parent: Mapped["Dispatch | None"] = relationship(remote_side=[id])
    trigger: Mapped["Trigger | None"] = relationship("Trigger")
    history: Mapped[list["DispatchStatusChange"]] = relationship(
        order_by="DispatchStatusChange.id", cascade="all, delete-orphan", back_populates="dispatch"
    )


class DispatchStatusChange(Base):
    """One step in a dispatch's life, kept for its timeline."""

    __tablename__ = "dispatch_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(sa.ForeignKey("dispatches.id", ondelete="CASCADE"), index=True)
    status: Mapped[DispatchStatus] = mapped_column(enum_column(DispatchStatus))
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    channel: Mapped[Channel | None] = mapped_column(enum_column(Channel))
    detail: Mapped[dict[str, Any] | None]
    at: Mapped[datetime] = mapped_column(default=utcnow)

    dispatch: Mapped[Dispatch] = relationship(back_populates="history")
