"""Staff users: admins, designers and agents."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base, enum_column, utcnow


class Role(str, enum.Enum):
    """What a staff user may do."""

    ADMIN = "admin"
    DESIGNER = "designer"
    AGENT = "agent"


class User(Base):
    """A member of staff who signs in to the console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # The Telegram account whose taps on alert buttons act as this user (linked by a one-time deep link).
    telegram_user_id: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())  # false: cannot sign in
    locale: Mapped[str | None] = mapped_column(sa.String(10))  # the console's language; none: the browser's
    # Changes with every new password: a session signed in before it is no longer valid.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")


class SignInAttempt(Base):
    """One try at the console's sign-in form, kept a day, so failures can be counted per account and address."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (sa.Index("ix_sign_in_attempts_email_at", "email", "at"),
                      sa.Index("ix_sign_in_attempts_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    email: Mapped[str] = mapped_column(sa.String(254))
    address: Mapped[str] = mapped_column(sa.String(64))
    succeeded: Mapped[bool]
