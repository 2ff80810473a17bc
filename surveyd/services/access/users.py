"""Staff users."""
from __future__ import annotations

import re
import secrets
from datetime import datetime

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Role, User, utcnow
from surveyd.services import tokens
from surveyd.services.access.passwords import MIN_LENGTH, hash_password
from surveyd.services.errors import Conflict, Invalid, NotFound
from surveyd.services.runtime import settings

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def create_user(email: str, role: str, password: str) -> User:
    """A new staff user with a hashed password."""
    if not EMAIL.match(email or ""):
        raise Invalid("not an email address", {"email": ["Not a valid email address."]})
    try:
        role_value = Role(role)
    except ValueError:
        raise Invalid("unknown role", {"role": ["Must be one of: admin, designer, agent."]}) from None
    if len(password or "") < MIN_LENGTH:
        raise Invalid("password too short", {"password": ["At least 8 characters."]})
    email = email.strip().lower()
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, role=role_value, password_hash=hash_password(password))
    db.session.add(user)
    db.session.commit()
    return user


def list_users() -> list[User]:
    """Every staff user, by email."""
    return list(db.session.scalars(sa.select(User).order_by(User.email)))


def invite_user(email: str, role: str, now: datetime | None = None) -> tuple[User, str]:
    """A new user who sets their own password through a one-time token (valid three days); (user, token)."""
    user = create_user(email, role, secrets.token_urlsafe(32))  # a password nobody knows until they set theirs
    expires = int((now or utcnow()).timestamp()) + tokens.PASSWORD_SET_SECONDS
    return user, tokens.sign_password_set(user.id, user.session_epoch, expires, settings().secret_key)


def password_set_user(token: str, now: datetime | None = None) -> User | None:
    """The active user a set-password token names while it is unspent and unexpired."""
    found = tokens.verify_password_set(token, int((now or utcnow()).timestamp()), settings().secret_key)
    user = db.session.get(User, found[0]) if found else None
    if user is None or not user.active or user.session_epoch != found[1]:
        return None
    return user


def set_password_with_token(token: str, new: str, confirm: str) -> User:
    """Set the password a token allows (commits); the token is spent. Invalid with the fields at fault."""
    user = password_set_user(token)
    if user is None:
        raise Invalid("the link has expired or was used", {"token": ["password.link_spent"]})
    if len(new or "") < MIN_LENGTH:
        raise Invalid("password too short", {"new": ["password.too_short"]})
    if new != confirm:
        raise Invalid("passwords differ", {"confirm": ["password.mismatch"]})
    user.password_hash = hash_password(new)
    user.session_epoch += 1
    db.session.commit()
    return user


def _active_admins() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.role == Role.ADMIN,
                                                                               User.active.is_(True)))


def change_user(user_id: int, role: str | None = None, active: bool | None = None) -> User:
    """Change a user's role or deactivate/reactivate them (commits); a deactivated user's sessions end at once.
    Conflict when it would leave no active admin."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    if role is not None:
        try:
            user.role = Role(role)
        except ValueError:
            raise Invalid("unknown role", {"role": ["Must be one of: admin, designer, agent."]}) from None
    if active is not None and active != user.active:
        user.active = active
        user.session_epoch += 1
    db.session.flush()
    if _active_admins() == 0:
        db.session.rollback()
        raise Conflict("surveyd needs at least one active admin")
    db.session.commit()
    return user


LOCALES = ("en", "tr", "fa")  # the console's languages


def set_locale(user_id: int, locale: str | None) -> User:
    """The console language a user chose; None or "" to follow the browser (commits)."""
    if locale and locale not in LOCALES:
        raise Invalid("unknown language", {"locale": [f"One of: {', '.join(LOCALES)}."]})
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    user.locale = locale or None
    db.session.commit()
    return user
