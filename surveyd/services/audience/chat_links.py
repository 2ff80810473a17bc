"""Telegram deep links: a one-time code per contact; `/start <code>` binds the chat that brings it."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Channel, ChatLink, ConsentState, Contact, utcnow
from surveyd.services.audience.contacts import get_contact, set_consent
from surveyd.services.errors import Conflict
from surveyd.services.runtime import settings

CODE_BYTES = 12  # 16 URL-safe characters: Telegram's start parameter allows 64 of [A-Za-z0-9_-]


def deep_link(code: str) -> str:
    """The t.me link that opens the bot and sends /start <code>."""
    return f"https://t.me/{settings().telegram_bot_username}?start={code}"


def create_link(external_id: str) -> tuple[str, datetime]:
    """A fresh one-time Telegram link for a contact and when it lapses (commits)."""
    if not settings().telegram_bot_username:
        raise Conflict("set SURVEYD_TELEGRAM_BOT_USERNAME to hand out Telegram links")
    contact = get_contact(external_id)
    expires_at = utcnow() + timedelta(seconds=settings().token_ttl_seconds)
    link = ChatLink(code=secrets.token_urlsafe(CODE_BYTES), contact_id=contact.id, channel=Channel.TELEGRAM,
                    expires_at=expires_at)
    db.session.add(link)
    db.session.commit()
    return deep_link(link.code), expires_at


def offer(contact: Contact) -> str:
    """A deep link to put in another channel's message: the contact's open one, else a new one (flushes)."""
    now = utcnow()
    link = db.session.scalar(
        sa.select(ChatLink).where(ChatLink.contact_id == contact.id, ChatLink.used_at.is_(None),
                                  ChatLink.expires_at > now + timedelta(days=1))
        .order_by(ChatLink.expires_at.desc()).limit(1))
    if link is None:
        link = ChatLink(code=secrets.token_urlsafe(CODE_BYTES), contact_id=contact.id, channel=Channel.TELEGRAM,
                        expires_at=now + timedelta(seconds=settings().token_ttl_seconds))
        db.session.add(link)
        db.session.flush()
    return deep_link(link.code)


def redeem(code: str, chat_id: str, language_code: str | None = None) -> Contact | None:
    """Bind the chat to the code's contact, once and in time (flushes); None for an unknown, used or lapsed code.

    One chat is one contact: a chat bound to someone else before moves to this contact.
    """
    now = utcnow()
    taken = db.session.execute(
        sa.update(ChatLink)
        .where(ChatLink.code == code, ChatLink.used_at.is_(None), ChatLink.expires_at > now)
        .values(used_at=now, used_by=chat_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    contact = db.session.scalar(sa.select(Contact).join(ChatLink, ChatLink.contact_id == Contact.id)
                                .where(ChatLink.code == code))
    for previous in db.session.scalars(sa.select(Contact).where(Contact.telegram_chat_id == chat_id,
                                                                Contact.id != contact.id)):
        previous.telegram_chat_id = None
    db.session.flush()  # the chat leaves its old contact before the new one takes it
    contact.telegram_chat_id = chat_id
    if not contact.locale and language_code:
        contact.locale = language_code  # the contact's locale wins; the app's language fills a gap
    set_consent(contact, Channel.TELEGRAM, ConsentState.OPTED_IN, "telegram_start", {"command": "/start"})
    return contact
