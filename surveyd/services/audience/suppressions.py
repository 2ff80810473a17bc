"""Addresses never to message again, kept only as keyed hashes: what remains of a person who had opted out of a
channel when their data was erased. The planner refuses a suppressed address as it refuses an opt-out, so a later
import or event that brings the same phone or email back cannot message them."""
from __future__ import annotations

import hashlib
import hmac
import unicodedata

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveyd.extensions import db
from surveyd.models import Channel, Suppression
from surveyd.services.runtime import settings

_READ = "surveyd.suppressions"  # session.info key: {(channel, hash): suppressed} read in the open transaction


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
    db.session.info.get(_READ, {})[(channel, digest)] = True


_AMONG = sa.select(Suppression.channel, Suppression.address_hash).where(  # built once: every event and send batch
    Suppression.channel.in_(sa.bindparam("channels", expanding=True)),  # the unique index's order
    Suppression.address_hash.in_(sa.bindparam("digests", expanding=True)))


def _look_up(digests: set[tuple[Channel, str]]) -> dict[tuple[Channel, str], bool]:
    """Whether each (channel, hash) is on the list, in one query; kept for the rest of this transaction."""
    # Asked while a planner builds a dispatch: nothing half-made may be flushed.
    with db.session.no_autoflush:
        found = {tuple(row) for row in db.session.execute(_AMONG, {
            "channels": list({channel for channel, _ in digests}), "digests": [digest for _, digest in digests]})}
    known = db.session.info.setdefault(_READ, {})
    for pair in digests:
        known[pair] = pair in found
    return known


def read_ahead(addresses: list[tuple[Channel, str | None]]) -> None:
    """Look these (channel, address) pairs up in one query, so that `suppressed` answers them without one for the
    rest of this transaction (a send batch checks every dispatch it claimed)."""
    digests = {(channel, address_hash(channel, address)) for channel, address in addresses if address}
    if digests:
        _look_up(digests)


def suppressed(channel: Channel, address: str | None) -> bool:
    """Whether an address is on the list (one indexed lookup, unless this transaction already asked)."""
    if not address:
        return False
    pair = (channel, address_hash(channel, address))
    known = db.session.info.get(_READ, {}).get(pair)
    return known if known is not None else _look_up({pair})[pair]


@sa.event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_READ, None)  # another transaction may have added one since
