"""One-time codes that bind a chat app account to a contact (Telegram's /start <code> deep link)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, enum_column, utcnow
from surveyd.models.channel import Channel
from surveyd.models.contact import Contact


class ChatLink(Base):
    """A code handed to one contact; the first chat that presents it in time becomes theirs."""

    __tablename__ = "chat_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(sa.String(64))  # the chat that redeemed it

    contact: Mapped[Contact] = relationship()
