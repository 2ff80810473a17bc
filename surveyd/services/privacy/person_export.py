"""Everything held about one person, as one JSON-ready document: the contact, every consent change, events with
their attributes, invitations with their status history and the message texts kept of them, responses with
answers, sentiment and themes, alerts with their activity, raw inbound messages, chat links and conversations,
and the integrators' webhook deliveries that named them. Every column of every row, but secrets that would let the
reader act as the person or the service (signing nonces, one-time link codes, replay hashes)."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    AlertActivity,
    Answer,
    ChatLink,
    CommentTheme,
    Conversation,
    Dispatch,
    DispatchStatusChange,
    Event,
    InboundMessage,
    Response,
    SandboxMessage,
    WebhookDelivery,
    utcnow,
)
from surveyd.services.audience.contacts import (
    consent_by_channel,
    consent_history,
    get_contact,
)
from surveyd.services.audit import trail
from surveyd.services.privacy.held import find

LEFT_OUT = {"token_nonce", "code", "request_hash", "response_body", "lease_owner", "lease_expires_at"}
FORMAT = "surveyd.person/1"


def _value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    return value


def row(instance) -> dict[str, Any]:
    """Every column of a row but the secrets, JSON-ready."""
    return {attribute.key: _value(getattr(instance, attribute.key))
            for attribute in sa.inspect(instance).mapper.column_attrs if attribute.key not in LEFT_OUT}


def _rows(model, ids: list[int], column=None) -> list[dict[str, Any]]:
    if not ids:
        return []
    column = column if column is not None else model.id
    return [row(item) for item in db.session.scalars(sa.select(model).where(column.in_(ids)).order_by(column))]


def export(external_id: str) -> dict[str, Any]:
    """The person's document (NotFound for an unknown external id); the export is audited. Commits."""
    contact = get_contact(external_id)
    held = find(contact)
    document = {
        "format": FORMAT,
        "exported_at": utcnow().isoformat(),
        "contact": {**row(contact), "consent": {channel: {k: _value(v) for k, v in state.items()}
                                                 for channel, state in consent_by_channel(contact).items()}},
        "consent_history": [{k: _value(v) for k, v in change.items()} for change in consent_history(contact)],
        "events": _rows(Event, held.event_ids),
        "dispatches": [{**item, "history": _rows(DispatchStatusChange, [item["id"]], DispatchStatusChange.dispatch_id),
                        "messages": _rows(SandboxMessage, [item["id"]], SandboxMessage.dispatch_id)}
                       for item in _rows(Dispatch, held.dispatch_ids)],
        "responses": [{**item, "answers": [
            {**answer, "theme": next(iter(_rows(CommentTheme, [answer["id"]], CommentTheme.answer_id)), None)}
            for answer in _rows(Answer, [item["id"]], Answer.response_id)]}
            for item in _rows(Response, held.response_ids)],
        "alerts": [{**item, "activity": _rows(AlertActivity, [item["id"]], AlertActivity.alert_id)}
                   for item in _rows(Alert, held.alert_ids)],
        "inbound_messages": _rows(InboundMessage, held.inbound_ids),
        "messages_without_invitation": [item for item in _rows(SandboxMessage, held.sandbox_ids)
                                        if item["dispatch_id"] is None],
        "conversations": _rows(Conversation, held.dispatch_ids, Conversation.dispatch_id),
        "chat_links": _rows(ChatLink, held.chat_link_ids),
        "webhook_deliveries": _rows(WebhookDelivery, held.delivery_ids),
    }
    trail.record("contact.exported", "contact", contact.id)
    db.session.commit()
    return document
