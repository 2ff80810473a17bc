"""Addresses never to message again, kept only as keyed hashes: what remains of a person who had opted out of a
channel when their data was erased. The planner refuses a suppressed address as it refuses an opt-out, so a later
import or event that brings the same phone or email back cannot message them."""
from __future__ import annotations

import hashlib
import hmac
import unicodedata

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Channel, Suppression
from surveyd.services.runtime import settings


def address_hash(channel: Channel, address: str) -> str:
    """HMAC-SHA256 of the normalised address with the secret key: the same address always hashes the same, and
    nobody without the key can test an address against the list."""
    normal = unicodedata.normalize("NFC", address.strip())
    if channel == Channel.EMAIL:
        normal = normal.lower()
    elif channel == Channel.SMS:
        normal = "+" + "".join(c for c in normal if c.isdigit())
    return hmac.new(settings().secret_key.encode(), f"{channel.value}:{normal}".encode(), hashlib.sha256).hexdigest()


def suppress(channel: Channel, address: str) -> None:
    """Put an address on the list (flushes; a repeat is a no-op)."""
    digest = address_hash(channel, address)
    exists = db.session.scalar(sa.select(Suppression.id).where(Suppression.channel == channel,
                                                              Suppression.address_hash == digest))
    if exists is None:
        db.session.add(Suppression(channel=channel, address_hash=digest))
        db.session.flush()


def suppressed(channel: Channel, address: str | None) -> bool:
    """Whether an address is on the list (one indexed lookup)."""
    if not address:
        return False
    with db.session.no_autoflush:  # asked while a planner builds a dispatch: nothing half-made may be flushed
        return db.session.scalar(sa.select(Suppression.id).where(
            Suppression.channel == channel, Suppression.address_hash == address_hash(channel, address))) is not None
