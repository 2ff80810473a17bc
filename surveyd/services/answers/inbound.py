"""Raw inbound deliveries: kept once per provider id before anything acts on them, then acted on once."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Channel, InboundMessage
from surveyd.services import row_writes


def store_once(event: InboundEvent, payload: Mapping[str, Any]) -> int | None:
    """Keep the raw delivery (commits); its id while it still needs acting on, None when it was already acted on."""
    row = InboundMessage(channel=Channel(event.channel), kind=event.kind, provider_event_id=event.provider_event_id,
                         sender=event.sender, payload=dict(payload))
    try:
        row_writes.insert(row)  # one INSERT, its id kept: no flush, and no read of the row after the commit
        db.session.commit()
        return row.id
    except IntegrityError:
        # The provider delivered it before: act only if that earlier delivery never got acted on.
        db.session.rollback()
    stored = db.session.execute(
        sa.select(InboundMessage.id, InboundMessage.processed_at).where(
            InboundMessage.channel == Channel(event.channel), InboundMessage.kind == event.kind,
            InboundMessage.provider_event_id == event.provider_event_id)
    ).one()
    db.session.rollback()
    return None if stored.processed_at is not None else stored.id


# Built once: a statement object keeps its cache key. Core, not an ORM UPDATE: the ORM's bulk path costs more.
_CLAIM = (sa.update(InboundMessage.__table__)
          .where(InboundMessage.__table__.c.id == sa.bindparam("inbound_id"),
                 InboundMessage.__table__.c.processed_at.is_(None))
          .values(processed_at=sa.bindparam("claimed_at")))


def claim(inbound_id: int, now: datetime) -> InboundMessage | None:
    """Mark a delivery acted on in the caller's transaction; None when another request already did (no flush)."""
    taken = db.session.connection().execute(_CLAIM, {"inbound_id": inbound_id, "claimed_at": now}).rowcount
    if taken != 1:
        return None
    return db.session.get(InboundMessage, inbound_id, populate_existing=True)


def record_outcome(record: InboundMessage, outcome: str, dispatch_id: int | None) -> None:
    """Keep what acting on a claimed delivery came to, in the caller's transaction (one UPDATE, no flush)."""
    row_writes.update(record, outcome=outcome, dispatch_id=dispatch_id)
