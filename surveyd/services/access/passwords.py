"""Password hashes: Argon2id for every new one; the older Werkzeug hashes still verify and are replaced on use."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

_hasher = PasswordHasher()  # Argon2id with argon2-cffi's RFC 9106 "low memory" profile
# Verified against when the email is unknown, so that answer takes as long as a wrong password.
_DUMMY = _hasher.hash("surveyd: no such user")
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    """An Argon2id hash of the password."""
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether the password matches the stored hash (None: no such user, checked at the same cost)."""
    if stored is None:
        _safe_verify(_DUMMY, password)
        return False
    if not stored.startswith("$argon2"):
        return check_password_hash(stored, password)
    return _safe_verify(stored, password)


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified should be replaced by one made with today's parameters."""
    return not stored.startswith("$argon2") or _hasher.check_needs_rehash(stored)


def _safe_verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
