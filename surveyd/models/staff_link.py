"""One-time codes that link a Telegram account to a staff user, so their taps on alert buttons act as them."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, utcnow
from surveyd.models.user import User


class StaffLink(Base):
    """A code printed by `surveyd user telegram-link`; the first Telegram user who brings it in time is linked."""

    __tablename__ = "staff_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
