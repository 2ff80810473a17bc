"""Integrators' webhook endpoints and the outbox of signed deliveries to them (Standard Webhooks)."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, enum_column, utcnow


class WebhookEndpoint(Base):
    """A URL an integrator registered, the event types it wants, and the secret its deliveries are signed with."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[Any]]
    survey_ids: Mapped[list[Any] | None] = mapped_column(nullable=True)  # None: every survey
    secret: Mapped[str] = mapped_column(sa.String(100))  # whsec_...; shown once, at creation
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    failing_since: Mapped[datetime | None]  # the first failure of the current run of failures
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))


class DeliveryStatus(str, enum.Enum):
    """Where one webhook delivery stands."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: retries ran out, the endpoint answered 410, or it was disabled


class WebhookDelivery(Base):
    """One event for one endpoint: the same webhook-id and body on every try."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    msg_id: Mapped[str] = mapped_column(sa.String(64), unique=True)  # webhook-id
    event_type: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict[str, Any]]  # {"type", "timestamp", "data"}, serialised the same way on every try
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus), default=DeliveryStatus.SCHEDULED)
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(120))
    lease_expires_at: Mapped[datetime | None]
    last_status: Mapped[int | None]  # the endpoint's last HTTP status
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()
    log: Mapped[list[WebhookAttempt]] = relationship(
        order_by="WebhookAttempt.id", cascade="all, delete-orphan", passive_deletes=True)


class WebhookAttempt(Base):
    """One try of a delivery: when, the status the endpoint answered (or the error), how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.String(300))
    elapsed_ms: Mapped[int | None]
    response: Mapped[str | None] = mapped_column(sa.String(200))  # the start of the endpoint's answer
