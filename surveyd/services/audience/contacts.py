"""Contacts: one record per customer, their consent per channel, and their timeline."""
from __future__ import annotations

from typing import Any, Callable

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    Channel,
    Consent,
    ConsentChange,
    ConsentState,
    Contact,
    Dispatch,
    Response,
    utcnow,
)
from surveyd.services import row_writes
from surveyd.services.errors import Invalid, NotFound

EXTERNAL_ID_LENGTH = 200  # contacts.external_id is VARCHAR(200)
FIELDS = ("name", "email", "phone", "telegram_chat_id", "locale", "timezone", "attributes")
ADDRESS_FIELDS = {"email": Channel.EMAIL, "phone": Channel.SMS, "telegram_chat_id": Channel.TELEGRAM}
# Called with (contact, consent) when a consent changes, in its transaction. Capabilities later in the order may not
# be imported here, so they add themselves from outside (integrations publishes contact.opted_out this way).
CONSENT_LISTENERS: list[Callable[[Contact, Consent], None]] = []


def find_contact(external_id: str) -> Contact | None:
    """The contact with this external id, if any."""
    return db.session.scalar(sa.select(Contact).where(Contact.external_id == external_id))


def search_contacts(text: str | None, limit: int = 50) -> list[Contact]:
    """Contacts whose name, email, external id or phone contain the text (case-insensitive; a phone matched on its
    digits, so "+90 532" finds +905321234567), newest first; the newest when there is no text."""
    query = sa.select(Contact).order_by(Contact.id.desc()).limit(limit)
    text = (text or "").strip()[:200]
    if text:
        literal = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{literal}%"  # the text as typed: % and _ match themselves
        matches = [sa.func.lower(column).like(like, escape="\\")
                   for column in (Contact.name, Contact.email, Contact.external_id)]
        digits = "".join(c for c in text if c.isdigit())
        if len(digits) >= 3:
            matches.append(Contact.phone.like(f"%{digits}%"))
        query = query.where(sa.or_(*matches))
    return list(db.session.scalars(query))


def get_contact(external_id: str) -> Contact:
    """The contact with this external id, or NotFound."""
    contact = find_contact(external_id)
    if contact is None:
        raise NotFound(f"contact {external_id!r} does not exist")
    return contact


# Built once: every event runs one, and SQLAlchemy then skips building and hashing it each time.
_BY_EXTERNAL_ID = sa.select(Contact).where(Contact.external_id == sa.bindparam("external_id"))
_BY_EXTERNAL_ID_LOCKED = _BY_EXTERNAL_ID.with_for_update()


def _find_locked(external_id: str) -> Contact | None:
    """The contact, with its row locked for this transaction on PostgreSQL (SQLite locks the whole file)."""
    query = _BY_EXTERNAL_ID_LOCKED if db.engine.dialect.name == "postgresql" else _BY_EXTERNAL_ID
    return db.session.scalar(query, {"external_id": external_id})


def apply_contact(external_id: str, data: dict[str, Any], source: str = "api",
                  evidence: dict[str, Any] | None = None) -> tuple[Contact, bool]:
    """Create or update a contact (never commits; a new one is inserted at the next flush); fields not given stay as they are.

    The contact's row stays locked until the caller commits: requests about one contact take it
    first, so they queue in one order (no deadlocks) and read-then-write rules such as contact
    frequency see each other's dispatches.
    """
    if not 1 <= len(external_id) <= EXTERNAL_ID_LENGTH:
        raise Invalid("bad external id", {"external_id": [f"From 1 to {EXTERNAL_ID_LENGTH} characters."]})
    contact = _find_locked(external_id)
    created = contact is None
    if contact is None:
        # An empty consent list up front: a new contact has none, so nothing needs to load them.
        contact = Contact(external_id=external_id, attributes={}, consents=[])
        db.session.add(contact)
    for field in FIELDS:
        if field in data:
            if field in ADDRESS_FIELDS and not created and data[field] != getattr(contact, field):
                _new_address(contact, ADDRESS_FIELDS[field])
            setattr(contact, field, data[field] if field != "attributes" else dict(data[field] or {}))
    for channel, state in (data.get("consent") or {}).items():
        set_consent(contact, Channel(channel), ConsentState(state), source, evidence)
    return contact, created


def _new_address(contact: Contact, channel: Channel) -> None:
    """A new address on a channel is worth trying again, even where the old one bounced."""
    if contact.undeliverable(channel):
        set_consent(contact, channel, ConsentState.OPTED_IN, "address_changed", {"field": channel.value})


def write(contact: Contact) -> None:
    """Write what apply_contact did, now, so the contact has its id (never commits). A new contact with nothing
    else pending goes in with one INSERT (services/row_writes.py) and stays in the session as a loaded row; a
    changed one, or a new one whose consents were set (set_consent flushed it), goes with a flush."""
    if sa.inspect(contact).pending:
        db.session.expunge(contact)
        row_writes.insert(contact)
        row_writes.attach(contact)
    else:
        db.session.flush()


def put_contact(external_id: str, data: dict[str, Any], source: str = "api",
                evidence: dict[str, Any] | None = None) -> tuple[Contact, bool]:
    """Create or update a contact; True when it was created. `evidence` goes to the consent ledger (the request id)."""
    contact, created = apply_contact(external_id, data, source, evidence)
    db.session.commit()
    return contact, created


def set_consent(contact: Contact, channel: Channel, state: ConsentState, source: str,
                evidence: dict[str, Any] | None = None) -> None:
    """Record a consent decision for one channel, and in the ledger with its evidence when it changes anything
    (flushes, never commits)."""
    consent = next((c for c in contact.consents if c.channel == channel), None)
    changed = consent is None or consent.state != state
    now = utcnow()
    if consent is None:
        consent = Consent(channel=channel, state=state, source=source, changed_at=now)
        contact.consents.append(consent)
    elif changed:
        consent.state, consent.source, consent.changed_at = state, source, now
    if changed:
        db.session.add(ConsentChange(contact=contact, channel=channel, state=state, source=source,
                                     evidence=dict(evidence or {}), at=now))
    db.session.flush()
    if changed:
        for listener in CONSENT_LISTENERS:
            listener(contact, consent)


def consent_by_channel(contact: Contact) -> dict[str, dict[str, Any]]:
    """Every channel with the contact's address presence and consent state."""
    recorded = {c.channel: c for c in contact.consents}
    result = {}
    for channel in Channel:
        consent = recorded.get(channel)
        result[channel.value] = {
            "reachable": contact.address(channel) is not None,
            "state": consent.state.value if consent else "opted_in",
            "changed_at": consent.changed_at if consent else None,
            "source": consent.source if consent else None,
        }
    return result


def timeline(contact: Contact, limit: int = 200) -> list[dict[str, Any]]:
    """The contact's dispatches, responses and alerts, newest first."""
    dispatches = db.session.scalars(
        sa.select(Dispatch).where(Dispatch.contact_id == contact.id).order_by(Dispatch.id.desc()).limit(limit)
    )
    responses = db.session.scalars(
        sa.select(Response).where(Response.contact_id == contact.id).order_by(Response.id.desc()).limit(limit)
    )
    alerts = db.session.scalars(
        sa.select(Alert).where(Alert.contact_id == contact.id).order_by(Alert.id.desc()).limit(limit)
    )
    items = [
        {"type": "dispatch", "id": d.id, "at": d.created_at, "survey_id": d.survey_id, "channel": d.channel.value,
         "status": d.status.value, "reason": d.reason}
        for d in dispatches
    ] + [
        {"type": "response", "id": r.id, "at": r.created_at, "survey_id": r.survey_id, "channel": r.channel.value,
         "score": r.score, "completed": r.completed}
        for r in responses
    ] + [
        {"type": "alert", "id": a.id, "at": a.created_at, "survey_id": a.survey_id, "status": a.status.value}
        for a in alerts
    ]
    return sorted(items, key=lambda item: (item["at"], item["type"]), reverse=True)[:limit]


def consent_history(contact: Contact) -> list[dict[str, Any]]:
    """Every consent change of the contact, oldest first: when, channel, state, source and evidence."""
    return [{"at": change.at, "channel": change.channel.value, "state": change.state.value, "source": change.source,
             "evidence": change.evidence}
            for change in db.session.scalars(sa.select(ConsentChange).where(ConsentChange.contact_id == contact.id)
                                             .order_by(ConsentChange.at, ConsentChange.id))]
