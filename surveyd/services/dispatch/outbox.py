"""The relay's side of the outbox: lease due dispatches, recover stuck ones, lapse unanswered links.

The database is the source of truth and the queue only transport: a relay leases due rows
(scheduled → queued, with a lease) and hands their ids to tasks; a queued row whose lease lapsed
was lost in transport and is handed out again; a sending row whose lease lapsed may or may not have
reached its provider, so it becomes unknown and is reconciled before anything is resent.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Dispatch, DispatchStatus, utcnow
from surveyd.services.dispatch.planning import record_status

# Sent but not yet answered (or not known to be sent): the states a lapsed link moves out of.
OPEN_STATUSES = (DispatchStatus.SENT, DispatchStatus.DELIVERED, DispatchStatus.UNKNOWN)


def skip_locked(query: sa.Select) -> sa.Select:
    """Rows no other relay holds: SKIP LOCKED on PostgreSQL; SQLite has one writer at a time anyway."""
    if db.engine.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def lease_due(owner: str, limit: int, lease_seconds: float, now: datetime | None = None) -> list[int]:
    """Lease up to limit due dispatches to this relay and return their ids, oldest due first."""
    now = now or utcnow()
    if limit <= 0:
        return []
    due = list(db.session.scalars(skip_locked(
        sa.select(Dispatch.id)
        .where(Dispatch.status.in_((DispatchStatus.SCHEDULED, DispatchStatus.UNKNOWN)), Dispatch.due_at <= now)
        .order_by(Dispatch.due_at, Dispatch.id)
        .limit(limit)
    )))
    lost = list(db.session.scalars(skip_locked(
        sa.select(Dispatch.id)
        .where(Dispatch.status == DispatchStatus.QUEUED, Dispatch.lease_expires_at < now)
        .order_by(Dispatch.lease_expires_at)
        .limit(max(0, limit - len(due)))
    )))
    ids = due + lost
    if ids:
        db.session.execute(
            sa.update(Dispatch)
            .where(Dispatch.id.in_(ids))
            .values(status=DispatchStatus.QUEUED, lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return ids


def recover_stuck(now: datetime | None = None, limit: int = 500) -> int:
    """Sends whose worker vanished mid-call become unknown, to be reconciled; the number recovered."""
    now = now or utcnow()
    stuck = list(db.session.scalars(skip_locked(
        sa.select(Dispatch)
        .where(Dispatch.status == DispatchStatus.SENDING, Dispatch.lease_expires_at < now)
        .order_by(Dispatch.lease_expires_at)
        .limit(limit)
    )))
    for dispatch in stuck:
        record_status(dispatch, DispatchStatus.UNKNOWN, "lease_expired", {"owner": dispatch.lease_owner})
        dispatch.reconcile, dispatch.due_at = True, now
        dispatch.lease_owner = dispatch.lease_expires_at = None
    db.session.commit()
    return len(stuck)


def in_flight(now: datetime | None = None) -> int:
    """Dispatches handed to tasks whose lease still runs: the queue's backlog as the database sees it."""
    now = now or utcnow()
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Dispatch)
        .where(Dispatch.status == DispatchStatus.QUEUED, Dispatch.lease_expires_at >= now)
    )
    db.session.rollback()
    return int(count or 0)


def expire_overdue(now: datetime | None = None, limit: int = 500) -> int:
    """Mark unanswered dispatches whose link has lapsed as expired; the number marked."""
    now = now or utcnow()
    overdue = list(db.session.scalars(skip_locked(
        sa.select(Dispatch)
        .where(Dispatch.status.in_(OPEN_STATUSES), Dispatch.expires_at <= now)
        .order_by(Dispatch.expires_at)
        .limit(limit)
    )))
    for dispatch in overdue:
        record_status(dispatch, DispatchStatus.EXPIRED)
    db.session.commit()
    return len(overdue)


def hand_out_due(model, scheduled, now: datetime, lease: timedelta, limit: int) -> list[int]:
    """Ids of an outbox's due rows that nobody holds, each held for `lease` while it is handed to a sender
    (commits); for the outboxes whose rows carry status, due_at and lease_expires_at (notifications, webhooks)."""
    ids = list(db.session.scalars(skip_locked(
        sa.select(model.id)
        .where(model.status == scheduled, model.due_at <= now,
               sa.or_(model.lease_expires_at.is_(None), model.lease_expires_at < now))
        .order_by(model.due_at, model.id).limit(limit))))
    if ids:
        db.session.execute(sa.update(model).where(model.id.in_(ids)).values(lease_expires_at=now + lease)
                           .execution_options(synchronize_session=False))
    db.session.commit()
    return ids
