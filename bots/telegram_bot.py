"""Telegram through the bot: surveys as inline keyboards, replies in the chat, updates read into InboundEvents."""
from __future__ import annotations

import hmac
import warnings
from typing import Any, Mapping, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bots.channel import (
    AmbiguousChannelError,
    ChannelAdapter,
    InboundEvent,
    OutboundMessage,
    PermanentChannelError,
    RateLimit,
    SendResult,
    TransientChannelError,
    WebhookRejected,
)
from bots.telegram_client import TelegramClient

# Telegram's published limits: about 30 messages a second overall, one a second in one chat.
OVERALL_PER_SECOND = 30.0
PER_CHAT_PER_SECOND = 1.0
PER_GROUP_PER_MINUTE = 20
Buttons = Sequence[Sequence[tuple[str, str]]]  # rows of (label, callback data)


def keyboard(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
    """PTB's inline keyboard for rows of (label, callback data)."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                 for row in buttons])


def _retry_after_seconds(error: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta in v23; read it either way, without the warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def provider_error(error: Exception) -> Exception:
    """The channel error a PTB exception means: retry later, never retry, or we cannot tell."""
    if isinstance(error, RetryAfter):
        return TransientChannelError(f"telegram flood control: {error}", retry_after=_retry_after_seconds(error))
    if isinstance(error, Forbidden):
        # The customer blocked the bot (or never started it): an opt-out, not something to retry.
        return PermanentChannelError(f"telegram refused: {error}", code="opted_out")
    if isinstance(error, InvalidToken):
        # PTB's message quotes the whole token: keep it out of the history and the logs.
        return PermanentChannelError("telegram rejected the bot token", code="provider_auth")
    if isinstance(error, BadRequest):
        code = "invalid_address" if "chat not found" in str(error).lower() else "rejected"
        return PermanentChannelError(f"telegram bad request: {error}", code=code)
    if isinstance(error, TimedOut):
        return AmbiguousChannelError(f"telegram did not answer in time: {error}")
    if isinstance(error, NetworkError):  # includes 5xx answers
        return TransientChannelError(f"telegram unreachable: {error}")
    return error


class TelegramChannel(ChannelAdapter):
    """Sends survey messages (with score buttons) to Telegram chats through one TelegramClient."""

    name = "telegram"

    def __init__(self, client: TelegramClient, per_second: float = OVERALL_PER_SECOND,
                 per_chat: float = PER_CHAT_PER_SECOND):
        self.client = client
        self.per_second, self.per_chat = per_second, per_chat

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return self.client.call(method, **kwargs)
        except Exception as error:  # mapped to the channel's own errors; anything else passes unchanged
            mapped = provider_error(error)
            if mapped is error:
                raise
            raise mapped from error

    def send(self, message: OutboundMessage) -> SendResult:
        """Post the message (and its buttons) to the chat; the result names chat and message."""
        # A link that needs a sign-in (an agent's alert) would only preview a login page.
        previews = None if message.extra.get("link_preview", True) else LinkPreviewOptions(is_disabled=True)
        sent = self._call("send_message", chat_id=int(message.to), text=message.text,
                          reply_markup=keyboard(message.extra.get("buttons")),
                          parse_mode=message.extra.get("parse_mode"), link_preview_options=previews)
        return SendResult(provider_message_id=f"{sent.chat_id}:{sent.message_id}")

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """The bot's overall bucket and the chat's own."""
        if self.per_second <= 0:
            return []
        limits = [RateLimit("telegram:bot", self.per_second, burst=max(1, int(self.per_second))),
                  RateLimit(f"telegram:chat:{message.to}", self.per_chat, burst=1)]
        if message.to.startswith("-"):  # a group or channel: about 20 messages a minute, whatever the pace
            limits.append(RateLimit(f"telegram:group:{message.to}", PER_GROUP_PER_MINUTE / 60, PER_GROUP_PER_MINUTE))
        return limits

    def reply(self, chat_id: str, text: str, buttons: Buttons | None = None) -> None:
        """A message in a conversation the customer is having with the bot right now."""
        self._call("send_message", chat_id=int(chat_id), text=text, reply_markup=keyboard(buttons))

    def show_choice(self, chat_id: str, message_id: int, text: str) -> None:
        """Edit a survey message to show what was chosen, without its buttons."""
        self._call("edit_message_text", chat_id=int(chat_id), message_id=message_id, text=text, reply_markup=None)

    def edit(self, chat_id: str, message_id: int, text: str, buttons: Buttons | None = None,
             parse_mode: str | None = None) -> None:
        """Replace a message's text and buttons (an alert's, once someone holds it)."""
        self._call("edit_message_text", chat_id=int(chat_id), message_id=message_id, text=text,
                   reply_markup=keyboard(buttons), parse_mode=parse_mode,
                   link_preview_options=LinkPreviewOptions(is_disabled=True))

    def acknowledge(self, callback_query_id: str, text: str | None = None) -> None:
        """Answer a button tap so the customer's app stops its spinner."""
        self._call("answer_callback_query", callback_query_id=callback_query_id, text=text)


def verify_secret(expected: str | None, headers: Mapping[str, str]) -> None:
    """Raise WebhookRejected unless the update carries the secret token set with setWebhook."""
    given = headers.get("X-Telegram-Bot-Api-Secret-Token") or ""
    if not expected:
        raise WebhookRejected("Telegram is not configured here")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRejected("X-Telegram-Bot-Api-Secret-Token does not match")


def _object(value: Any) -> dict:
    """A JSON object of the update, or an empty one for anything else (an update is read, never trusted)."""
    return value if isinstance(value, dict) else {}


def _identifier(value: Any) -> str | None:
    """A Telegram id (chat, user, message) as text: an integer within 64 bits, as the Bot API gives them."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return str(value)
    return None


def _word(value: Any, limit: int = 64) -> str:
    """A short text field (callback id, callback data, language code): text up to `limit` characters, else empty."""
    return value if isinstance(value, str) and len(value) <= limit else ""


def parse_update(update: Any) -> InboundEvent:
    """One Telegram update as an InboundEvent: a text ("message"), a command ("command") or a button tap ("tap").
    Fields of the wrong type or size read as absent, so a malformed update is "other" and changes nothing."""
    if not isinstance(update, dict) or _identifier(update.get("update_id")) is None:
        raise WebhookRejected("an update needs an integer update_id", status=400)
    event_id = str(update["update_id"])
    tap = update.get("callback_query")
    if isinstance(tap, dict):
        message = _object(tap.get("message"))
        return InboundEvent(
            kind="tap", channel="telegram", sender=_identifier(_object(message.get("chat")).get("id")),
            provider_event_id=event_id, text=_word(tap.get("data")),
            answers={"callback_query_id": _word(tap.get("id")),
                     "message_id": _identifier(message.get("message_id")) or "",
                     "language_code": _word(_object(tap.get("from")).get("language_code"), 35),
                     "from_id": _identifier(_object(tap.get("from")).get("id")) or ""},
        )
    message = update.get("message")
    if isinstance(message, dict) and isinstance(message.get("text"), str):
        text = message["text"]
        kind = "command" if text.startswith("/") else "message"
        return InboundEvent(
            kind=kind, channel="telegram", sender=_identifier(_object(message.get("chat")).get("id")),
            provider_event_id=event_id, text=text,
            answers={"language_code": _word(_object(message.get("from")).get("language_code"), 35),
                     "from_id": _identifier(_object(message.get("from")).get("id")) or ""},
        )
    return InboundEvent(kind="other", channel="telegram", provider_event_id=event_id)
