"""Staff users."""
from __future__ import annotations

import re

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Role, User
from surveyd.services.access.passwords import MIN_LENGTH, hash_password
from surveyd.services.errors import Conflict, Invalid

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
