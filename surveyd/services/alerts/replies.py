"""Answering the customer from an alert: the agent's message goes out on the channel the customer answered on,
through the notification outbox; what the customer writes back joins the alert's activity."""
from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    AlertActivity,
    AlertStatus,
    Channel,
    Contact,
    Notification,
    utcnow,
)
from surveyd.services.alerts import activity, handling, notifying
from surveyd.services.dispatch.planning import unusable_reason
from surveyd.services.errors import Conflict

BEST_CHANNELS = (Channel.TELEGRAM, Channel.SMS, Channel.EMAIL)  # for a customer who answered on the web page
ADDRESS_FIELD = {Channel.SMS: "to", Channel.EMAIL: "to", Channel.TELEGRAM: "chat_id"}
LISTENING = timedelta(days=14)  # how long after an agent's message the customer's texts join the alert


def reply_channel(alert: Alert) -> Channel:
    """The channel the customer answered on; for a web answer, the contact's first usable chat or mail channel."""
    answered = alert.response.channel
    if answered != Channel.WEB:
        return answered
    contact = alert.contact
    return next((channel for channel in BEST_CHANNELS if unusable_reason(channel, contact) is None), Channel.EMAIL)


def send_reply(alert_id: int, text: str, actor: str) -> Notification:
    """Queue the agent's message to the customer (commits); Conflict (409) when the channel cannot reach them."""
    alert = handling.get_alert(alert_id)
    channel = reply_channel(alert)
    reason = unusable_reason(channel, alert.contact)
    if reason is not None:
        db.session.rollback()
        raise Conflict(_REFUSED[reason].format(channel=channel.value), {"channel": [reason]})
    target = {"channel": channel.value, ADDRESS_FIELD[channel]: alert.contact.address(channel), "text": text,
              "locale": alert.response.locale}
    row = notifying.enqueue(alert, "reply", target, f"reply:{channel.value}:{secrets.token_hex(8)}")
    activity.record(alert, actor, "replied", {"channel": channel.value, "text": text, "notification_id": row.id})
    if alert.status in (AlertStatus.OPEN, AlertStatus.CLAIMED):
        handling.apply_changes(alert, {"status": AlertStatus.CONTACTED.value}, actor)
    db.session.commit()
    return row


_REFUSED = {
    "opted_out": "The customer opted out of {channel}; they cannot be messaged there.",
    "undeliverable": "The customer's {channel} address bounced as non-existent.",
    "no_address": "The customer has no {channel} address.",
    "channel_unavailable": "{channel} is not configured on this surveyd.",
}


def customer_wrote(contacts: list[Contact], channel: Channel, text: str) -> bool:
    """Keep a customer's message in the activity of the alert an agent last wrote to them about on this channel
    (flushes); False when no agent is waiting for an answer there."""
    if not contacts or not text:
        return False
    since = utcnow() - LISTENING
    alert = db.session.scalar(
        sa.select(Alert).join(AlertActivity, AlertActivity.alert_id == Alert.id)
        .where(Alert.contact_id.in_([c.id for c in contacts]), AlertActivity.action == "replied",
               AlertActivity.at >= since, AlertActivity.detail["channel"].as_string() == channel.value)
        .order_by(AlertActivity.at.desc()).limit(1))
    if alert is None:
        return False
    activity.record(alert, activity.CUSTOMER, "customer_replied", {"channel": channel.value, "text": text})
    return True
