"""Signing staff in: the password checked, failures counted per account and per address, sessions ended by
a password change or a deactivation.

Every try is a row (kept a day), so the counts hold across processes and machines. Five failures for one
account within 15 minutes, or twenty from one address, refuse further tries until the oldest of them is 15
minutes old; the refusal says how long, and is the same whether the account exists or not.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import SignInAttempt, User, utcnow
from surveyd.services.access import passwords
from surveyd.services.errors import Invalid

WINDOW = timedelta(minutes=15)
PER_ACCOUNT, PER_ADDRESS = 5, 20  # failures within WINDOW
KEEP = timedelta(days=1)


class Refused(Exception):
    """Sign-in refused: wrong email or password, a deactivated user, or too many failures (minutes to wait)."""

    def __init__(self, reason: str, retry_after_minutes: int = 0):
        super().__init__(reason)
        self.reason, self.retry_after_minutes = reason, retry_after_minutes  # reason: "wrong" or "throttled"


def sign_in(email: str, password: str, address: str, now: datetime | None = None) -> User:
    """The user these credentials name (commits the try); Refused otherwise."""
    now = now or utcnow()
    email = (email or "").strip().lower()[:254]
    address = (address or "unknown")[:64]
    wait = _throttled(email, address, now)
    if wait is not None:
        db.session.rollback()
        raise Refused("throttled", wait)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    ok = passwords.verify(user.password_hash if user else None, password or "")
    ok = ok and user.active
    db.session.add(SignInAttempt(at=now, email=email, address=address, succeeded=ok))
    db.session.execute(sa.delete(SignInAttempt).where(SignInAttempt.at < now - KEEP))
    if ok and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    db.session.commit()
    if not ok:
        raise Refused("wrong")
    return user


def _throttled(email: str, address: str, now: datetime) -> int | None:
    """Minutes to wait when this account or address has failed too often lately; None when it may try."""
    since = now - WINDOW
    waits = []
    for column, value, limit in ((SignInAttempt.email, email, PER_ACCOUNT),
                                 (SignInAttempt.address, address, PER_ADDRESS)):
        failures = list(db.session.scalars(sa.select(SignInAttempt.at).where(
            column == value, SignInAttempt.at >= since, SignInAttempt.succeeded.is_(False))
            .order_by(SignInAttempt.at.desc()).limit(limit)))
        if len(failures) >= limit:
            oldest = failures[-1]
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
            waits.append(max(1, math.ceil((oldest + WINDOW - now).total_seconds() / 60)))
    return max(waits) if waits else None


def session_token(user: User) -> str:
    """What a signed-in session carries for this user: it stops matching when the password changes."""
    return f"{user.id}:{user.session_epoch}"


def user_for_session(token: str) -> User | None:
    """The active user a session token still names, or None."""
    user_id, _, epoch = (token or "").partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


def change_password(user_id: int, current: str, new: str, confirm: str) -> User:
    """Set a new password after checking the current one (commits); other sessions of the user end. Invalid with
    the fields at fault, each with the key of its message in the console's strings."""
    user = db.session.get(User, user_id)
    errors: dict[str, list[str]] = {}
    if user is None or not passwords.verify(user.password_hash, current or ""):
        errors["current"] = ["password.wrong_current"]
    if len(new or "") < passwords.MIN_LENGTH:
        errors["new"] = ["password.too_short"]
    elif new != confirm:
        errors["confirm"] = ["password.mismatch"]
    if errors:
        db.session.rollback()
        raise Invalid("the password was not changed", errors)
    user.password_hash = passwords.hash_password(new)
    user.session_epoch += 1
    db.session.commit()
    return user
