"""Where a person's data lies: the rows that belong to one contact, found once for the export and the erasure,
so both always cover the same ground."""
from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    Answer,
    ChatLink,
    Contact,
    Dispatch,
    Event,
    InboundMessage,
    Response,
    SandboxMessage,
    WebhookDelivery,
)


@dataclass(frozen=True)
class Held:
    """The ids of everything that belongs to one person."""

    contact: Contact
    event_ids: list[int]
    dispatch_ids: list[int]
    response_ids: list[int]
    answer_ids: list[int]
    alert_ids: list[int]
    inbound_ids: list[int]
    sandbox_ids: list[int]
    chat_link_ids: list[int]
    delivery_ids: list[int]


def _ids(query) -> list[int]:
    return list(db.session.scalars(query))


def _quoted(values: list[str]) -> list[str]:
    """Each value as it appears inside stored JSON text (ASCII-escaped, as SQLite keeps it, or not, as PostgreSQL
    prints JSONB), quoted, so "c-1" does not match "c-10"."""
    forms = set()
    for value in values:
        forms.add(json.dumps(value))
        forms.add(json.dumps(value, ensure_ascii=False))
    return sorted(forms)


def find(contact: Contact) -> Held:
    """Every row of this person's."""
    dispatch_ids = _ids(sa.select(Dispatch.id).where(Dispatch.contact_id == contact.id))
    response_ids = _ids(sa.select(Response.id).where(Response.contact_id == contact.id))
    addresses = [a for a in (contact.phone, contact.email, contact.telegram_chat_id) if a]
    inbound = sa.select(InboundMessage.id).where(sa.or_(
        InboundMessage.dispatch_id.in_(dispatch_ids) if dispatch_ids else sa.false(),
        InboundMessage.sender.in_(addresses) if addresses else sa.false()))
    texts = [text for text in db.session.scalars(sa.select(Answer.value_text).where(
        Answer.response_id.in_(response_ids), Answer.value_text.is_not(None)))] if response_ids else []
    strings = [s for s in (contact.external_id, contact.email, contact.phone, contact.name, *texts) if s and len(s) >= 3]
    # Sandbox copies of what was sent: to them, for their invitations, or quoting them (an agent's alert email).
    quoting = [SandboxMessage.text.contains(value, autoescape=True) for value in texts if len(value) >= 8]
    sandbox = sa.select(SandboxMessage.id).where(sa.or_(
        SandboxMessage.dispatch_id.in_(dispatch_ids) if dispatch_ids else sa.false(),
        SandboxMessage.recipient.in_(addresses) if addresses else sa.false(), *quoting))
    # Integrators' webhook deliveries name the person inside their JSON: found by the values they would carry.
    payload = sa.cast(WebhookDelivery.payload, sa.Text)
    deliveries = _ids(sa.select(WebhookDelivery.id).where(sa.or_(*(payload.contains(form, autoescape=True)
                                                                   for form in _quoted(strings))))) if strings else []
    return Held(
        contact=contact,
        event_ids=_ids(sa.select(Event.id).where(Event.contact_id == contact.id)),
        dispatch_ids=dispatch_ids,
        response_ids=response_ids,
        answer_ids=_ids(sa.select(Answer.id).where(Answer.response_id.in_(response_ids))) if response_ids else [],
        alert_ids=_ids(sa.select(Alert.id).where(Alert.contact_id == contact.id)),
        inbound_ids=_ids(inbound),
        sandbox_ids=_ids(sandbox),
        chat_link_ids=_ids(sa.select(ChatLink.id).where(ChatLink.contact_id == contact.id)),
        delivery_ids=deliveries,
    )
