"""Event intake: record the touchpoint, plan its dispatches, answer once per idempotency key."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from surveyd.extensions import db
from surveyd.models import Dispatch, Event, utcnow
from surveyd.services import row_writes
from surveyd.services.audience import contacts
from surveyd.services.design.touchpoints import touchpoint_id
from surveyd.services.dispatch.planning import plan_dispatches
from surveyd.services.errors import Conflict, Invalid

Presenter = Callable[[Event, list[Dispatch]], str]
RETRYABLE_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure
ATTEMPTS = 3  # tries when a simultaneous request inserts the same key, contact or touchpoint first


@dataclass(frozen=True)
class Intake:
    """The stored answer to an event request, and whether it is a replay."""

    body: str
    replayed: bool


def request_hash(payload: Any) -> str:
    """A digest of the request's meaning: key order and whitespace do not change it."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# Built once: every keyed event runs it, and SQLAlchemy then skips building and hashing it each time.
_BY_KEY = sa.select(Event.request_hash, Event.response_body).where(Event.idempotency_key == sa.bindparam("key"))


def _replay(key: str, digest: str) -> Intake | None:
    stored = db.session.execute(_BY_KEY, {"key": key}).one_or_none()
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise Invalid(
            "this Idempotency-Key was used with a different request body",
            {"Idempotency-Key": ["Already used for another request; use a new key for a new event."]},
        )
    return Intake(body=stored.response_body, replayed=True)


def record_event(data: dict[str, Any], digest: str, key: str | None, present: Presenter) -> Intake:
    """Store an event and its dispatches and keep the answer for replays, all in one transaction."""
    for _ in range(ATTEMPTS):
        if key:
            replay = _replay(key, digest)
            if replay:
                db.session.rollback()
                return replay
        try:
            return _record(data, digest, key, present)
        except IntegrityError:
            # A simultaneous request inserted the same key, contact or touchpoint first. On
            # PostgreSQL that surfaces at the flush that inserts the row, not only at commit.
            # Start over: a replay when it was our key, otherwise the rows now exist.
            db.session.rollback()
        except OperationalError as error:
            # PostgreSQL chose this transaction as a deadlock victim: nothing was stored, go again.
            if getattr(error.orig, "sqlstate", None) not in RETRYABLE_SQLSTATES:
                raise
            db.session.rollback()
    raise Conflict("a request with this Idempotency-Key is in progress; retry shortly")


def _record(data: dict[str, Any], digest: str, key: str | None, present: Presenter) -> Intake:
    now = utcnow()
    contact_data = dict(data["contact"])
    external_id = contact_data.pop("external_id")
    touchpoint = touchpoint_id(data["touchpoint"])  # before the contact's row lock, as always: one lock order
    contact, _ = contacts.apply_contact(external_id, contact_data, source="event")
    contacts.write(contact)  # a new or changed contact is written and has its id
    # The event and its dispatches are new rows nothing changes in this transaction: written with Core statements
    # (services/row_writes.py), which costs a fraction of the unit of work's flushes.
    event = Event(
        touchpoint_id=touchpoint,
        contact_id=contact.id,
        occurred_at=data.get("occurred_at") or now,
        received_at=now,
        attributes=dict(data.get("attributes") or {}),
        idempotency_key=key,
        request_hash=digest if key else None,
    )
    row_writes.insert(event)  # sampling and the dispatches use its id
    dispatches = plan_dispatches(event, contact, now)
    body = present(event, dispatches)
    row_writes.update_row(Event, event.id, response_body=body)  # the answer, kept for replays
    db.session.commit()
    return Intake(body=body, replayed=False)
