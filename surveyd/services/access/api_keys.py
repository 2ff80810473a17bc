"""Integrator API keys: created once, shown once, stored as SHA-256."""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import ApiKey, utcnow
from surveyd.services import config_cache
from surveyd.services.errors import NotFound

PREFIX = "sk_"


def _hash(raw: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(name: str) -> tuple[ApiKey, str]:
    """A new key; the raw value is returned once and never stored."""
    if not name or len(name) > 100:
        raise ValueError("the key name must be 1 to 100 characters")
    raw = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=raw[:10], key_hash=_hash(raw))
    db.session.add(key)
    db.session.commit()
    return key, raw


def authenticate(raw: str) -> int | None:
    """The id of the live key matching a presented value, if any: from this process's configuration cache, which
    forgets every key the moment any key changes (services/config_cache.py), else one indexed lookup."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    digest = _hash(raw)
    return config_cache.cached("api_key", digest, lambda: db.session.scalar(
        sa.select(ApiKey.id).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))))



def list_api_keys() -> list[ApiKey]:
    """Every key, newest first (only their prefixes are known)."""
    return list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.id.desc())))


def revoke_api_key(key_id: int) -> ApiKey:
    """Revoke a key at once (commits); requests with it get 401 from now on. NotFound for an unknown id."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} does not exist")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    db.session.commit()
    return key
