"""Contacts: one record per customer across every channel."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, enum_column, utcnow
from surveyd.models.channel import Channel


class Contact(Base):
    """A customer, known by the integrator's external id."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    consents: Mapped[list["Consent"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", lazy="selectin"
    )

    def address(self, channel: Channel) -> str | None:
        """The contact's address on a channel; web needs none."""
        return {
            Channel.SMS: self.phone,
            Channel.EMAIL: self.email,
            Channel.TELEGRAM: self.telegram_chat_id,
            Channel.WEB: "web",
        }[channel]

    def opted_out(self, channel: Channel) -> bool:
        """True while the contact has opted out of this channel."""
        return any(c.channel == channel and c.state == ConsentState.OPTED_OUT for c in self.consents)

    def undeliverable(self, channel: Channel) -> bool:
        """True while the provider has said the contact's address on this channel does not exist."""
        return any(c.channel == channel and c.state == ConsentState.UNDELIVERABLE for c in self.consents)


class ConsentState(str, enum.Enum):
    """A contact's standing permission on one channel."""

    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    # Not the customer's choice: the provider said the address does not exist (an email bounce such
    # as 550 5.1.1). It stands until the contact's address on that channel changes.
    UNDELIVERABLE = "undeliverable"


class Consent(Base):
    """The latest consent decision of one contact on one channel."""

    __tablename__ = "consents"
    __table_args__ = (sa.UniqueConstraint("contact_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    state: Mapped[ConsentState] = mapped_column(enum_column(ConsentState))
    source: Mapped[str] = mapped_column(sa.String(40))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="consents")


class ConsentChange(Base):
    """One consent decision, kept for good: when, on which channel, from where (the STOP keyword, a one-click
    unsubscribe, /stop, the API, the console, a bounce) and the evidence (the keyword's text, the request id, the
    provider's code). `consents` holds only the latest; this is the ledger that proves what happened."""

    __tablename__ = "consent_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    state: Mapped[ConsentState] = mapped_column(enum_column(ConsentState))
    source: Mapped[str] = mapped_column(sa.String(40))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship()


class Suppression(Base):
    """An address that must never be messaged again, kept only as a keyed hash (HMAC-SHA256 with the secret key):
    what is left of a person who opted out of a channel and then had their data erased."""

    __tablename__ = "suppressions"
    __table_args__ = (sa.UniqueConstraint("channel", "address_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    address_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
