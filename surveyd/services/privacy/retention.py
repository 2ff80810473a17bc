"""Keeping personal data only as long as configured, the relay's housekeeping (hourly).

- SURVEYD_RAW_RETENTION_DAYS (default 30): raw inbound payloads (Twilio and Telegram bodies) older than that are
  emptied; what they meant was acted on when they came.
- SURVEYD_RETENTION_DAYS (unset: keep): a person with nothing newer than that (no event, response or change) is
  erased as on request (privacy.erasure); for everyone else, what is older than that is anonymised the same way:
  events' attributes and replay bodies, comments, copies of messages, alert notes and resolutions. Scores stay."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    Answer,
    Contact,
    Event,
    InboundMessage,
    Response,
    SandboxMessage,
    utcnow,
)
from surveyd.services.audit import trail
from surveyd.services.insight import themes
from surveyd.services.privacy import erasure
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)
EVERY_SECONDS = 3600.0
BATCH = 500


def purge_raw(now: datetime, days: int) -> int:
    """Empty raw inbound payloads older than `days`; the number emptied. Commits."""
    cutoff = now - timedelta(days=days)
    emptied = db.session.execute(sa.update(InboundMessage).where(
        InboundMessage.received_at < cutoff, sa.cast(InboundMessage.payload, sa.Text) != "{}")
        .values(payload={}).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return emptied


def stale_contacts(cutoff: datetime, limit: int = BATCH) -> list[str]:
    """External ids of people with no event, response or change since the cutoff (never erased ones)."""
    latest_event = sa.select(sa.func.max(Event.received_at)).where(Event.contact_id == Contact.id).scalar_subquery()
    latest_response = sa.select(sa.func.max(Response.updated_at)).where(
        Response.contact_id == Contact.id).scalar_subquery()
    return list(db.session.scalars(sa.select(Contact.external_id).where(
        Contact.updated_at < cutoff, ~Contact.external_id.startswith("erased:"),
        sa.or_(latest_event.is_(None), latest_event < cutoff),
        sa.or_(latest_response.is_(None), latest_response < cutoff)).order_by(Contact.id).limit(limit)))


def anonymise_older(cutoff: datetime) -> int:
    """What is older than the cutoff of people who are still active: the same fields erasure clears. Commits."""
    changed = db.session.execute(sa.update(Event).where(
        Event.received_at < cutoff, sa.or_(Event.response_body.is_not(None), Event.idempotency_key.is_not(None)))
        .values(attributes={}, response_body=None, request_hash=None, idempotency_key=None)
        .execution_options(synchronize_session=False)).rowcount
    comments = list(db.session.scalars(sa.select(Answer.id).join(Response, Response.id == Answer.response_id).where(
        Response.created_at < cutoff, Answer.value_text.is_not(None), Answer.sentiment.is_not(None))))
    if comments:
        db.session.execute(sa.update(Answer).where(Answer.id.in_(comments)).values(value_text=None)
                           .execution_options(synchronize_session=False))
        themes.forget(comments)
    changed += len(comments)
    changed += db.session.execute(sa.delete(SandboxMessage).where(SandboxMessage.created_at < cutoff)).rowcount
    changed += db.session.execute(sa.update(Alert).where(
        Alert.created_at < cutoff, sa.or_(Alert.note.is_not(None), Alert.resolution.is_not(None)))
        .values(note=None, resolution=None).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return changed


def housekeep(now: datetime | None = None) -> dict[str, int]:
    """One pass: raw payloads, stale people, older data. Returns counts."""
    now = now or utcnow()
    current = settings()
    done = {"raw_payloads": purge_raw(now, current.raw_retention_days), "people": 0, "older": 0}
    if current.retention_days is None:
        return done
    cutoff = now - timedelta(days=current.retention_days)
    for external_id in stale_contacts(cutoff):
        erasure.erase(external_id, reason="retention")
        done["people"] += 1
    done["older"] = anonymise_older(cutoff)
    if done["people"] or done["older"]:
        trail.record("retention.applied", "retention", None, done)
        db.session.commit()
        erasure.clear_files()
        log.info("retention: %d people erased, %d older items anonymised", done["people"], done["older"])
    return done
