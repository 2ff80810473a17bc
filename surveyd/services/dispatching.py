"""Sends dispatches that are due. The dispatch engine issue replaces the claim with leases and a relay."""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from bots.channel import PermanentChannelError, TransientChannelError
from surveyd.extensions import db
from surveyd.models import Dispatch, DispatchStatus, utcnow
from surveyd.services import channels
from surveyd.services.dispatch_planning import record_status
from surveyd.services.messages import compose

log = logging.getLogger(__name__)
# Sent but not yet answered: the states a lapsed link moves out of.
OPEN_STATUSES = (DispatchStatus.SENT, DispatchStatus.DELIVERED)


def _claim(dispatch_id: int) -> bool:
    """Move one due dispatch from scheduled to sending; False if someone else got it first."""
    claimed = db.session.execute(
        sa.update(Dispatch)
        .where(Dispatch.id == dispatch_id, Dispatch.status == DispatchStatus.SCHEDULED)
        .values(status=DispatchStatus.SENDING, attempts=Dispatch.attempts + 1, updated_at=utcnow())
    ).rowcount
    db.session.commit()
    return claimed == 1


def send_one(dispatch_id: int) -> DispatchStatus | None:
    """Claim, render and send one dispatch; the claim commits before the provider is called."""
    if not _claim(dispatch_id):
        return None
    dispatch = db.session.get(Dispatch, dispatch_id)
    adapter = channels.adapter(dispatch.channel)
    if dispatch.expires_at <= utcnow():
        record_status(dispatch, DispatchStatus.EXPIRED, "expired_before_send")
        db.session.commit()
        return dispatch.status
    message = compose(dispatch)
    # Release the transaction before talking to a provider: a slow provider must not hold a lock.
    db.session.commit()
    try:
        if adapter is None:
            raise PermanentChannelError(f"{dispatch.channel.value} is not configured", code="channel_unavailable")
        result = adapter.send(message)
    except TransientChannelError as error:
        log.warning("dispatch %s: transient failure: %s", dispatch_id, error)
        record_status(dispatch, DispatchStatus.SCHEDULED, "retrying", {"error": str(error)})
    except PermanentChannelError as error:
        log.warning("dispatch %s: permanent failure: %s", dispatch_id, error)
        record_status(dispatch, DispatchStatus.FAILED, error.code, {"error": str(error)})
    else:
        dispatch.provider_message_id = result.provider_message_id
        dispatch.sent_at = utcnow()
        record_status(dispatch, DispatchStatus.SENT)
        if result.status == "delivered":
            record_status(dispatch, DispatchStatus.DELIVERED)
    db.session.commit()
    return dispatch.status


def due_dispatch_ids(now: datetime | None = None, limit: int = 100) -> list[int]:
    """Ids of scheduled dispatches whose time has come, oldest due first."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            sa.select(Dispatch.id)
            .where(Dispatch.status == DispatchStatus.SCHEDULED, Dispatch.due_at <= now)
            .order_by(Dispatch.due_at, Dispatch.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return ids


def send_due(now: datetime | None = None, limit: int = 100) -> int:
    """Send every due dispatch (up to limit); the number handed to a channel."""
    sent = 0
    for dispatch_id in due_dispatch_ids(now, limit):
        if send_one(dispatch_id) in (DispatchStatus.SENT, DispatchStatus.DELIVERED):
            sent += 1
    return sent


def expire_overdue(now: datetime | None = None, limit: int = 500) -> int:
    """Mark unanswered dispatches whose link has lapsed as expired; the number marked."""
    now = now or utcnow()
    overdue = list(
        db.session.scalars(
            sa.select(Dispatch)
            .where(Dispatch.status.in_(OPEN_STATUSES), Dispatch.expires_at <= now)
            .order_by(Dispatch.expires_at)
            .limit(limit)
        )
    )
    for dispatch in overdue:
        record_status(dispatch, DispatchStatus.EXPIRED)
    db.session.commit()
    return len(overdue)
