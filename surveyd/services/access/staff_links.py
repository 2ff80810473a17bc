"""Telegram accounts of staff users: a one-time deep link per user, redeemed by `/start <code>` in the bot."""
from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import StaffLink, User, utcnow
from surveyd.services.errors import Conflict, NotFound
from surveyd.services.runtime import settings

CODE_BYTES = 12  # 16 URL-safe characters, as for customers' links
LIFETIME = timedelta(days=1)  # printed for one person, used at once: a day is plenty


def create_link(email: str) -> str:
    """A fresh one-time `t.me/<bot>?start=<code>` that links whoever opens it to the staff user (commits)."""
    if not settings().telegram_bot_username:
        raise Conflict("set SURVEYD_TELEGRAM_BOT_USERNAME to hand out Telegram links")
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == (email or "").strip().lower()))
    if user is None:
        raise NotFound(f"no staff user {email}")
    link = StaffLink(code=secrets.token_urlsafe(CODE_BYTES), user_id=user.id, expires_at=utcnow() + LIFETIME)
    db.session.add(link)
    db.session.commit()
    return f"https://t.me/{settings().telegram_bot_username}?start={link.code}"


def redeem(code: str, telegram_user_id: str) -> User | None:
    """Link the Telegram user to the code's staff user, once and in time (flushes); None when it is no staff code.

    One Telegram account is one staff user: an account linked to someone else before moves to this user.
    """
    if not telegram_user_id:
        return None
    now = utcnow()
    taken = db.session.execute(
        sa.update(StaffLink).where(StaffLink.code == code, StaffLink.used_at.is_(None), StaffLink.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        return None
    user = db.session.scalar(sa.select(User).join(StaffLink, StaffLink.user_id == User.id)
                             .where(StaffLink.code == code))
    for previous in db.session.scalars(sa.select(User).where(User.telegram_user_id == telegram_user_id,
                                                             User.id != user.id)):
        previous.telegram_user_id = None
    db.session.flush()
    user.telegram_user_id = telegram_user_id
    return user


def staff_user(telegram_user_id: str | None) -> User | None:
    """The staff user a Telegram account is linked to, if any."""
    if not telegram_user_id:
        return None
    return db.session.scalar(sa.select(User).where(User.telegram_user_id == telegram_user_id))
