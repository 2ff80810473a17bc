"""What the sandbox inbox page shows: delivered messages and the staff's view of the result."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, Channel, Contact, Response, SandboxMessage, Survey, Trigger
from surveyd.services import conversations, inbound, metrics
from surveyd.services.errors import Invalid

MAX_SMS = 1600  # Twilio's longest concatenated message


def inbox(limit: int = 50) -> list[SandboxMessage]:
    """The newest sandbox deliveries on every channel but SMS (SMS shows as phone threads)."""
    return list(db.session.scalars(
        sa.select(SandboxMessage).where(SandboxMessage.channel != Channel.SMS)
        .order_by(SandboxMessage.id.desc()).limit(limit)))


def sms_threads(limit: int = 200) -> list[tuple[str, list[SandboxMessage]]]:
    """The SMS traffic per phone number as the phone shows it: oldest first, the busiest-lately thread on top."""
    rows = list(db.session.scalars(
        sa.select(SandboxMessage).where(SandboxMessage.channel == Channel.SMS)
        .order_by(SandboxMessage.id.desc()).limit(limit)))
    threads: dict[str, list[SandboxMessage]] = {}
    for row in rows:  # newest first, so the thread with the latest message comes first
        threads.setdefault(row.recipient, []).append(row)
    return [(phone, list(reversed(messages))) for phone, messages in threads.items()]


def reply_sms(phone: str, text: str) -> list[str]:
    """Text the service as the customer: the same inbound path as Twilio's webhook; the replies, kept in the thread."""
    phone, text = (phone or "").strip(), (text or "").strip()
    if not phone or not text or len(text) > MAX_SMS:
        raise Invalid(f"Type a reply of 1 to {MAX_SMS} characters.")
    message = InboundEvent(kind="message", channel="sms", sender=phone, text=text,
                           provider_event_id=f"SMsandbox{uuid.uuid4().hex}")
    inbound_id = inbound.store_once(message, {"From": phone, "Body": text, "MessageSid": message.provider_event_id,
                                              "source": "sandbox"})
    replies = conversations.take_message(inbound_id, message) if inbound_id else []
    db.session.add(SandboxMessage(channel=Channel.SMS, recipient=phone, text=text, extra={"direction": "inbound"}))
    for reply in replies:
        db.session.add(SandboxMessage(channel=Channel.SMS, recipient=phone, text=reply, extra={"direction": "reply"}))
    db.session.commit()
    return replies


def staff_view(limit: int = 10) -> dict[str, Any]:
    """Scores per survey, the latest responses and open alerts, as staff would follow them."""
    surveys = list(db.session.scalars(sa.select(Survey).order_by(Survey.id)))
    return {
        "scores": [(survey, metrics.survey_metrics(survey, None, None, None, None)["overall"]) for survey in surveys],
        "responses": list(db.session.scalars(sa.select(Response).order_by(Response.id.desc()).limit(limit))),
        "alerts": list(
            db.session.scalars(
                sa.select(Alert).where(Alert.status != AlertStatus.RESOLVED).order_by(Alert.id.desc()).limit(limit)
            )
        ),
    }


def event_choices() -> dict[str, list[str]]:
    """Touchpoints that have triggers and known contacts, for the 'fire an event' form."""
    touchpoints = sorted({trigger.touchpoint.key for trigger in db.session.scalars(sa.select(Trigger))})
    contacts = list(db.session.scalars(sa.select(Contact.external_id).order_by(Contact.id).limit(200)))
    contacts.sort(key=lambda external_id: external_id.startswith("demo-"))  # the named demo people first
    return {"touchpoints": touchpoints, "contacts": contacts}
