"""Stored deliveries that nobody acted on, acted on after all: the promise that an acknowledged webhook is never lost.

A webhook keeps its raw delivery (committed) before acting on it. When the acting fails after that
(a bug, the database gone for a moment) the provider may not deliver again: Twilio does not repeat an
inbound SMS or a status callback, and the Telegram long poll has moved past the update. The relay
therefore comes back here every 30 seconds and takes such rows again, through the same claim as
the webhook, so a late delivery and this redrive still act once between them. A row that keeps
failing is given up after MAX_ATTEMPTS, loudly, with its last error kept on the row.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from bots import twilio_webhooks
from bots.channel import OutboundMessage
from bots.telegram_bot import parse_update
from surveyd.extensions import db
from surveyd.models import Channel, InboundMessage, utcnow
from surveyd.services.answers import conversations, delivery_status, telegram_updates
from surveyd.services.dispatch import channels
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)

EVERY_SECONDS = 30.0  # how often each relay looks (a relay chore, wired in surveyd/server.py)
MAX_ATTEMPTS = 5
GRACE = timedelta(seconds=60)  # a webhook still working on its own delivery is left alone this long
# A reply acted on a day late would confuse more than it helps ("this survey has closed" for a text
# sent yesterday); older rows stay as they are, for staff to look at.
MAX_AGE = timedelta(hours=24)


def stalled(now: datetime, limit: int = 20) -> list[int]:
    """Ids of deliveries stored before the grace period and never acted on, oldest first."""
    return list(db.session.scalars(
        sa.select(InboundMessage.id)
        .where(InboundMessage.processed_at.is_(None), InboundMessage.received_at < now - GRACE,
               InboundMessage.received_at > now - MAX_AGE, InboundMessage.attempts < MAX_ATTEMPTS)
        .order_by(InboundMessage.id).limit(limit)))


def recover(now: datetime | None = None, limit: int = 20) -> int:
    """Act on stalled deliveries; how many were taken (each commits on its own)."""
    now = now or utcnow()
    taken = 0
    for inbound_id in stalled(now, limit):
        row = _count_attempt(inbound_id)
        if row is None:
            continue
        try:
            _act(row.id, row.channel, row.kind, dict(row.payload))
            taken += 1
        except Exception as error:  # one bad row must not stop the others
            db.session.rollback()
            _record_failure(inbound_id, error)
    return taken


def _count_attempt(inbound_id: int) -> InboundMessage | None:
    """Count this try before making it (commits), so a row that crashes the process still runs out of tries."""
    row = db.session.get(InboundMessage, inbound_id)
    if row is None or row.processed_at is not None:
        db.session.rollback()
        return None
    row.attempts += 1
    db.session.commit()
    return row


def _act(inbound_id: int, channel: Channel, kind: str, payload: dict) -> None:
    """The same use case the webhook ran, then the answers it would have sent back."""
    if channel == Channel.TELEGRAM:
        event = parse_update(payload)
        effects = telegram_updates.take_update(inbound_id, event)
        sandboxed = Channel.TELEGRAM.value in settings().sandbox_channels
        adapter = channels.SandboxChat() if sandboxed else channels.adapter(Channel.TELEGRAM)
        if adapter is not None:
            telegram_updates.deliver(event, effects, adapter)
    elif channel == Channel.SMS and kind == "status":
        delivery_status.take_status(inbound_id, twilio_webhooks.parse_status(payload), payload.get("dispatch"))
    elif channel == Channel.SMS:
        event = twilio_webhooks.parse_message(payload)
        for reply in conversations.take_message(inbound_id, event):
            _text_back(event.sender or "", reply)
    else:
        raise ValueError(f"no way to act on a stored {channel.value} {kind}")


def _text_back(phone: str, text: str) -> None:
    """A late reply goes out as its own SMS: the webhook's TwiML answer is long gone."""
    if Channel.SMS.value in settings().sandbox_channels:
        channels.keep_sandbox_reply(Channel.SMS, phone, text)
        return
    adapter = channels.adapter(Channel.SMS)
    if adapter is not None:
        adapter.send(OutboundMessage(channel=Channel.SMS.value, to=phone, text=text))


def _record_failure(inbound_id: int, error: Exception) -> None:
    """Keep why the try failed; after the last try, say loudly that a delivery was given up (commits)."""
    row = db.session.get(InboundMessage, inbound_id)
    if row is None:
        return
    row.last_error = f"{type(error).__name__}: {error}"[:200]
    db.session.commit()
    if row.attempts >= MAX_ATTEMPTS:
        log.error("inbound %s (%s %s %s) given up after %s tries: %s", row.id, row.channel.value, row.kind,
                  row.provider_event_id, row.attempts, row.last_error)
    else:
        log.warning("inbound %s: try %s failed: %s", row.id, row.attempts, row.last_error, exc_info=error)
