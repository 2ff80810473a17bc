"""Alerts raised by negative answers, worked by support agents, with what happened to each."""
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
    __table_args__ = (
        sa.Index("ix_alerts_status_created_at", "status", "created_at"),
        # What the escalation sweep looks for: alerts with a due time not yet escalated.
        sa.Index("ix_alerts_due_unescalated", "due_at",
                 postgresql_where=sa.text("escalated_at IS NULL AND due_at IS NOT NULL"),
                 sqlite_where=sa.text("escalated_at IS NULL AND due_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"), unique=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id"), index=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus), default=AlertStatus.OPEN)
    reasons: Mapped[list[Any]]
    assignee: Mapped[str | None] = mapped_column(sa.String(254))
    # The staff user behind the assignee, where there is one (the API still takes a free string).
    assignee_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    root_cause: Mapped[str | None] = mapped_column(sa.String(64))
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[datetime | None]  # raised + the survey's alert.sla_minutes
    escalated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None]

    response: Mapped[Response] = relationship()
    contact: Mapped[Contact] = relationship()
    activity: Mapped[list[AlertActivity]] = relationship(
        back_populates="alert", order_by="AlertActivity.id", cascade="all, delete-orphan", passive_deletes=True)
    notifications: Mapped[list[Notification]] = relationship(
        back_populates="alert", order_by="Notification.id", cascade="all, delete-orphan", passive_deletes=True)


class AlertActivity(Base):
    """One thing that happened to an alert: raised, notified, claimed, replied, resolved, escalated..."""

    __tablename__ = "alert_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(254))  # "system", "customer", "user:<email>", "api_key:<name>"
    action: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)

    alert: Mapped[Alert] = relationship(back_populates="activity")


class NotificationStatus(str, enum.Enum):
    """Where one agent notification stands in its outbox."""

    SCHEDULED = "scheduled"  # due at due_at (now, or after a backoff)
    SENDING = "sending"  # claimed by a task under a lease; the provider may be being called
    SENT = "sent"
    FAILED = "failed"  # permanently: the target refused it, or retries ran out
    FOLDED = "folded"  # the target's limit was reached: carried by a digest notification instead


class Notification(Base):
    """One alert event (created, escalated) for one target: a row of the notification outbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        # Each target hears of each alert event once, however often the answer is redelivered.
        sa.UniqueConstraint("alert_id", "event", "target_key", name="uq_notifications_alert_event_target"),
        sa.Index("ix_notifications_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(16))  # created, escalated
    channel: Mapped[str] = mapped_column(sa.String(16))  # email, telegram, slack, webhook
    target_key: Mapped[str] = mapped_column(sa.String(300))  # channel + address: the pacing and uniqueness key
    target: Mapped[dict[str, Any]]  # the notify entry as the survey version had it
    status: Mapped[NotificationStatus] = mapped_column(enum_column(NotificationStatus),
                                                      default=NotificationStatus.SCHEDULED)
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(120))
    lease_expires_at: Mapped[datetime | None]
    possible_duplicate: Mapped[bool] = mapped_column(default=False)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(120))
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    alert: Mapped[Alert] = relationship(back_populates="notifications")
    log: Mapped[list[NotificationAttempt]] = relationship(
        order_by="NotificationAttempt.id", cascade="all, delete-orphan", passive_deletes=True)


class NotificationAttempt(Base):
    """One try of a notification and what the provider answered: the delivery log."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(sa.String(16))  # sent, retrying, failed, ambiguous
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
