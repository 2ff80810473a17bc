"""Provider status callbacks: a dispatch only ever moves forward, and a message that never arrived falls back."""
from __future__ import annotations

import sqlalchemy as sa

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Channel, Dispatch, DispatchStatus, utcnow
from surveyd.services.answers import inbound
from surveyd.services.dispatch.planning import plan_reminder, record_status
from surveyd.services.dispatch.sending import fall_back

# How far along the way to the customer a dispatch is; a callback only ever moves it further.
PROGRESS = {DispatchStatus.SENDING: 1, DispatchStatus.UNKNOWN: 1, DispatchStatus.SENT: 2, DispatchStatus.DELIVERED: 3}
REACHED = {"sent": DispatchStatus.SENT, "delivered": DispatchStatus.DELIVERED}
FAILED = frozenset({"undelivered", "failed"})


def _dispatch_for(event: InboundEvent, dispatch_id: int | None) -> Dispatch | None:
    """The dispatch a callback is about: by the provider's message id, else by the id our callback URL carries."""
    query = sa.select(Dispatch).where(Dispatch.provider_message_id == event.dispatch_ref)
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update()
    dispatch = db.session.scalar(query)
    if dispatch is None and dispatch_id is not None:
        # The answer to our send was lost (unknown) or not recorded yet: the callback is still ours
        # as long as the dispatch is on this channel and has no other message id.
        candidate = db.session.get(Dispatch, dispatch_id, with_for_update=db.engine.dialect.name == "postgresql")
        if (candidate is not None and candidate.channel == Channel(event.channel)
                and candidate.provider_message_id in (None, event.dispatch_ref)):
            dispatch = candidate
    return dispatch


def _apply(dispatch: Dispatch, event: InboundEvent) -> str:
    """Move the dispatch on (flushes); the outcome to keep with the raw callback."""
    status, rank = event.text or "", PROGRESS.get(dispatch.status)
    detail = {"via": "status_callback", "provider_message_id": event.dispatch_ref}
    if rank is None:
        return "ignored"  # answered, failed, expired or suppressed: nothing a carrier says changes that
    if status in REACHED:
        target = REACHED[status]
        if PROGRESS[target] <= rank:
            return "ignored"  # late or repeated: delivered never goes back to sent
        first_news = dispatch.status in (DispatchStatus.SENDING, DispatchStatus.UNKNOWN)
        if first_news:
            # The provider has it after all: no reconciliation, no second send.
            now = utcnow()
            dispatch.provider_message_id, dispatch.sent_at, dispatch.reconcile = event.dispatch_ref, now, False
            dispatch.lease_owner = dispatch.lease_expires_at = None
            record_status(dispatch, DispatchStatus.SENT, detail=detail)
            plan_reminder(dispatch, now)
        if target == DispatchStatus.DELIVERED:
            record_status(dispatch, DispatchStatus.DELIVERED, detail=detail)
        return target.value
    if status in FAILED:
        if dispatch.status == DispatchStatus.DELIVERED:
            return "ignored"
        dispatch.lease_owner = dispatch.lease_expires_at = None
        fall_back(dispatch, event.reason or "undelivered", utcnow(), {**detail, "error_code": event.error_code})
        return status
    return "ignored"  # queued, accepted, sending, scheduled, read: nothing we act on


def take_status(inbound_id: int, event: InboundEvent, dispatch_id: int | None) -> str | None:
    """Act once on a stored status callback; the outcome, or None when an earlier delivery acted on it (commits once)."""
    record = inbound.claim(inbound_id, utcnow())
    if record is None:
        db.session.rollback()
        return None
    dispatch = _dispatch_for(event, dispatch_id)
    outcome = _apply(dispatch, event) if dispatch is not None else "unknown_message"
    inbound.record_outcome(record, outcome, dispatch.id if dispatch is not None else None)
    db.session.commit()
    return outcome
