"""Erasing a person: every string that names them or that they wrote goes; their scores stay as anonymous rows, so
no figure moves (responses, numeric answers, alerts' status and timing, dispatches' outcomes stay and keep
counting). What goes: the contact's name, addresses, attributes and external id (replaced by `erased:<random>`),
their consent decisions and ledger, events' attributes and replay bodies, comments (and their placement in themes,
whose words are rebuilt without them), message texts kept in the sandbox, status and attempt details that may
quote an address, raw inbound payloads and senders, chat links, alert notes, resolutions and activity details,
and the integrators' webhook deliveries that named them (their payload is replaced by a marker). If they had opted
out of a channel, a keyed hash of that address stays on the suppression list so nobody messages it again.

On SQLite, deleted and overwritten content can linger in free pages and the write-ahead log: connections run with
`secure_delete` (freed content is zeroed) and the erasure checkpoints and truncates the log afterwards, so the
strings are gone from the files too."""
from __future__ import annotations

import logging
import secrets
import sqlite3
import time
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    AlertActivity,
    Answer,
    ChatLink,
    Consent,
    ConsentChange,
    DispatchStatusChange,
    Event,
    InboundMessage,
    Notification,
    NotificationAttempt,
    SandboxMessage,
    WebhookAttempt,
    WebhookDelivery,
)
from surveyd.services.audience.contacts import get_contact
from surveyd.services.audience.suppressions import suppress
from surveyd.services.audit import trail
from surveyd.services.insight import themes
from surveyd.services.privacy.held import find

log = logging.getLogger(__name__)
ERASED = {"erased": True}


def erase(external_id: str, reason: str = "request") -> dict[str, Any]:
    """Erase the person (NotFound for an unknown or already erased external id). Commits, then clears SQLite's
    files of what was removed. Returns what was done, in counts (audited the same way)."""
    contact = get_contact(external_id)
    held = find(contact)
    for channel in [consent.channel for consent in contact.consents if consent.state.value == "opted_out"]:
        address = contact.address(channel)
        if address:
            suppress(channel, address)
    opted_out = sum(1 for consent in contact.consents if consent.state.value == "opted_out")

    def update(model, ids, **values):
        if ids:
            db.session.execute(sa.update(model).where(model.id.in_(ids)).values(**values)
                               .execution_options(synchronize_session=False))

    update(Event, held.event_ids, attributes={}, response_body=None, request_hash=None, idempotency_key=None)
    if held.dispatch_ids:
        db.session.execute(sa.update(DispatchStatusChange).where(DispatchStatusChange.dispatch_id.in_(
            held.dispatch_ids)).values(detail={}).execution_options(synchronize_session=False))
    comments = list(db.session.scalars(sa.select(Answer.id).where(
        Answer.id.in_(held.answer_ids), Answer.value_text.is_not(None)))) if held.answer_ids else []
    update(Answer, comments, value_text=None)
    themes.forget(comments)
    update(Alert, held.alert_ids, note=None, resolution=None)
    if held.alert_ids:
        db.session.execute(sa.update(AlertActivity).where(AlertActivity.alert_id.in_(held.alert_ids))
                           .values(detail={}).execution_options(synchronize_session=False))
        notifications = sa.select(Notification.id).where(Notification.alert_id.in_(held.alert_ids))
        db.session.execute(sa.update(Notification).where(Notification.id.in_(notifications))
                           .values(last_error=None).execution_options(synchronize_session=False))
        db.session.execute(sa.update(NotificationAttempt).where(NotificationAttempt.notification_id.in_(notifications))
                           .values(detail={}).execution_options(synchronize_session=False))
    update(InboundMessage, held.inbound_ids, payload={}, sender=None, last_error=None)
    if held.delivery_ids:
        for delivery in db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(held.delivery_ids))):
            delivery.payload = {"type": delivery.payload.get("type"), "timestamp": delivery.payload.get("timestamp"),
                                "data": ERASED}
            delivery.last_error = None
        db.session.execute(sa.update(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(held.delivery_ids))
                           .values(error=None, response=None).execution_options(synchronize_session=False))
    for model, ids in ((SandboxMessage, held.sandbox_ids), (ChatLink, held.chat_link_ids)):
        if ids:
            db.session.execute(sa.delete(model).where(model.id.in_(ids)))
    db.session.execute(sa.delete(ConsentChange).where(ConsentChange.contact_id == contact.id))
    db.session.execute(sa.delete(Consent).where(Consent.contact_id == contact.id))
    db.session.expire(contact, ["consents"])
    contact.external_id = f"erased:{secrets.token_hex(12)}"
    contact.name = contact.email = contact.phone = contact.telegram_chat_id = None
    contact.timezone = None
    contact.attributes = {}
    done = {"events": len(held.event_ids), "dispatches": len(held.dispatch_ids), "responses": len(held.response_ids),
            "comments": len(comments), "alerts": len(held.alert_ids), "inbound_messages": len(held.inbound_ids),
            "messages": len(held.sandbox_ids), "webhook_deliveries": len(held.delivery_ids),
            "suppressed_addresses": opted_out, "reason": reason}
    trail.record("contact.erased", "contact", contact.id, done)
    db.session.commit()
    clear_files()
    return done


def clear_files(attempts: int = 5) -> bool:
    """On SQLite: copy the write-ahead log into the database and truncate it, so old page versions holding erased
    strings leave the -wal file (secure_delete already zeroes freed content in the database file). On its own
    connection, as SQLite wants; a reader in the middle of a transaction makes it wait and try again. False when
    it could not (the log is then truncated by the next checkpoint that finds no reader)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return True
    for attempt in range(attempts):
        connection = sqlite3.connect(url.database, timeout=5)
        try:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            busy = 1
        finally:
            connection.close()
        if not busy:
            return True
        time.sleep(0.05 * (attempt + 1))
    log.warning("erasure: the write-ahead log could not be truncated now; the next checkpoint will")
    return False
