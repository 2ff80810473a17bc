"""Chats in the sandbox: SMS and Telegram threads, and the customer's side typed or tapped on the page.

Every reply typed or button tapped here takes the same inbound path as the provider's webhook
(stored once, acted on once), so the whole conversation can be tried without an account.
"""
from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from bots.channel import InboundEvent
from surveyd.extensions import db
from surveyd.models import Channel, SandboxMessage
from surveyd.services.answers import conversations, inbound, telegram_updates
from surveyd.services.dispatch.channels import SandboxChat, keep_sandbox_message
from surveyd.services.errors import Invalid
from surveyd.services.sandbox import agents

MAX_TEXT = 1600  # Twilio's longest concatenated message; far inside Telegram's 4096


def threads(channel: Channel, limit: int = 200) -> list[tuple[str, list[SandboxMessage]]]:
    """A chat channel's traffic with customers per address as the app shows it: oldest first, the
    busiest-lately thread on top (agents' alert messages are on the Agents view)."""
    rows = list(db.session.scalars(
        sa.select(SandboxMessage).where(SandboxMessage.channel == channel, agents.audience() == "customer")
        .order_by(SandboxMessage.id.desc()).limit(limit)))
    grouped: dict[str, list[SandboxMessage]] = {}
    for row in rows:  # newest first, so the thread with the latest message comes first
        grouped.setdefault(row.recipient, []).append(row)
    return [(address, list(reversed(messages))) for address, messages in grouped.items()]


def _text(address: str, text: str) -> tuple[str, str]:
    address, text = (address or "").strip(), (text or "").strip()
    if not address or not text or len(text) > MAX_TEXT:
        raise Invalid(f"Type a reply of 1 to {MAX_TEXT} characters.")
    return address, text


def reply_sms(phone: str, text: str) -> list[str]:
    """Text the service as the customer: the same inbound path as Twilio's webhook; the replies, kept in the thread."""
    phone, text = _text(phone, text)
    message = InboundEvent(kind="message", channel="sms", sender=phone, text=text,
                           provider_event_id=f"SMsandbox{uuid.uuid4().hex}")
    inbound_id = inbound.store_once(message, {"From": phone, "Body": text, "MessageSid": message.provider_event_id,
                                              "source": "sandbox"})
    replies = conversations.take_message(inbound_id, message) if inbound_id else []
    keep_sandbox_message(Channel.SMS, phone, text, "inbound")
    for reply in replies:
        keep_sandbox_message(Channel.SMS, phone, reply, "reply")
    db.session.commit()
    return replies


def _update_id() -> int:
    # Unique enough for one sandbox: microseconds since the epoch fit Telegram's integer ids.
    return time.time_ns() // 1000


def _sender(language_code: str = "en") -> dict:
    return {"id": 1, "is_bot": False, "first_name": "Sandbox", "language_code": language_code}


# The staff member's Telegram account: the one alert taps on the Agents view come from.
STAFF_SENDER = {"id": int(agents.STAFF_TELEGRAM_USER_ID), "is_bot": False, "first_name": "Sandbox agent",
                "language_code": "en"}


def tap_telegram(chat_id: str, message_id: int, data: str, sender: dict | None = None,
                 chat: SandboxChat | None = None) -> None:
    """Tap a button under a sandbox Telegram message, as the Telegram app would report it (by the customer
    unless a sender is given)."""
    if not chat_id.lstrip("-").isdigit() or not data:
        raise Invalid("Tap a button of a Telegram message.")
    # Negative ids are groups, where agents' alerts go; positive ones are a person's private chat.
    where = {"id": int(chat_id), "type": "supergroup" if chat_id.startswith("-") else "private"}
    update = {"update_id": _update_id(), "callback_query": {
        "id": uuid.uuid4().hex, "from": sender or _sender(), "chat_instance": chat_id, "data": data,
        "message": {"message_id": message_id, "date": int(time.time()), "chat": where, "text": ""},
    }}
    telegram_updates.receive(update, chat or SandboxChat())


class _ToastKeeper(SandboxChat):
    """The sandbox chat, keeping the toast Telegram would show the tapper so the page can show it instead."""

    toast: str | None = None

    def acknowledge(self, callback_query_id: str, text: str | None = None) -> None:
        """Keep the toast."""
        self.toast = text


def tap_as_staff(chat_id: str, message_id: int, data: str) -> str | None:
    """Tap Claim or Resolve under an alert's Telegram message as the sandbox's staff account; the toast it got."""
    keeper = _ToastKeeper()
    tap_telegram(chat_id, message_id, data, sender=STAFF_SENDER, chat=keeper)
    return keeper.toast


def type_telegram(chat_id: str, text: str) -> None:
    """Type a message (or a /command) to the bot as the customer."""
    chat_id, text = _text(chat_id, text)
    if not chat_id.lstrip("-").isdigit():
        raise Invalid("A Telegram chat id is a number.")
    message = {"message_id": 0, "date": int(time.time()), "chat": {"id": int(chat_id), "type": "private"},
               "from": _sender(), "text": text}
    keep_sandbox_message(Channel.TELEGRAM, chat_id, text, "inbound")
    db.session.commit()
    telegram_updates.receive({"update_id": _update_id(), "message": message}, SandboxChat())
