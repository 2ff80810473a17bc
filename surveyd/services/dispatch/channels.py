"""The channel adapters this process can use, built once per app from its settings."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app

from bots.channel import ChannelAdapter, OutboundMessage
from bots.sandbox import SandboxChannel
from bots.web_link import WebLinkChannel
from surveyd.config import SANDBOXABLE, Settings
from surveyd.extensions import db
from surveyd.models import Channel, SandboxMessage
from surveyd.services.dispatch.rate_limits import Limiter, build_limiter
from surveyd.services.runtime import settings

SANDBOX_SENDER = "surveyd sandbox <sandbox@surveyd.invalid>"


def _email_headers(message: OutboundMessage) -> list[tuple[str, str]]:
    """The headers the SMTP adapter would send with this email, for the sandbox to show."""
    from bots.email_message import build_email, header_list, message_id, sender_domain

    sender = settings().mail_from or SANDBOX_SENDER
    mime = build_email(message, sender, message_id(message.dispatch_id, message.reference, sender_domain(sender)))
    return header_list(mime)


def _sandbox_sink(message: OutboundMessage) -> str:
    """Store a sandbox delivery in the caller's transaction."""
    extra = dict(message.extra)
    if message.channel == Channel.EMAIL.value:
        extra["mime_headers"] = _email_headers(message)
    row = SandboxMessage(
        dispatch_id=message.dispatch_id,
        channel=Channel(message.channel),
        recipient=message.to,
        subject=message.subject,
        text=message.text,
        html=message.html,
        extra=extra,
    )
    db.session.add(row)
    db.session.flush()
    return str(row.id)


def keep_sandbox_message(channel: Channel, address: str, text: str, direction: str) -> None:
    """One line of a sandbox chat thread, in the caller's transaction: the customer's ("inbound") or ours ("reply")."""
    db.session.add(SandboxMessage(channel=channel, recipient=address, text=text, extra={"direction": direction}))


def keep_sandbox_reply(channel: Channel, address: str, text: str) -> None:
    """A reply from the service in a sandbox thread, sent later than the customer's message (commits)."""
    keep_sandbox_message(channel, address, text, "reply")
    db.session.commit()


class SandboxChat:
    """Stands in for the Telegram adapter's chat calls: edits and replies land in the sandbox thread."""

    def acknowledge(self, callback_query_id: str, text: str | None = None) -> None:
        """A tap's answer is a toast in the app; the sandbox has nowhere to show it."""

    def show_choice(self, chat_id: str, message_id: int, text: str) -> None:
        """The tapped survey message loses its buttons and shows the choice."""
        row = db.session.get(SandboxMessage, message_id)
        if row is not None and row.recipient == chat_id:
            row.text, row.extra = text, {key: value for key, value in row.extra.items() if key != "buttons"}
            db.session.commit()

    def edit(self, chat_id: str, message_id: int, text: str, buttons=None, parse_mode: str | None = None) -> None:
        """A message's new text and buttons (an alert's, once someone holds it)."""
        row = db.session.get(SandboxMessage, message_id)
        if row is not None and row.recipient == chat_id:
            extra = {key: value for key, value in row.extra.items() if key != "buttons"}
            row.text, row.extra = text, {**extra, **({"buttons": buttons} if buttons else {})}
            db.session.commit()

    def reply(self, chat_id: str, text: str, buttons=None) -> None:
        """A message from the bot in the chat."""
        keep_sandbox_message(Channel.TELEGRAM, chat_id, text, "reply")
        db.session.commit()


def _twilio(settings: Settings) -> ChannelAdapter | None:
    """The Twilio SMS adapter when its credentials and a sender are configured."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    if not (settings.twilio_from or settings.twilio_messaging_service_sid):
        return None
    from bots.sms_twilio import TwilioSmsChannel

    base = settings.public_url
    return TwilioSmsChannel(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        from_number=settings.twilio_from,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        api_base=settings.twilio_api_base,
        status_callback=f"{base}/webhooks/twilio/status" if base else None,
        rate_per_second=settings.twilio_rate_per_second,
        timeout=settings.send_timeout_seconds,
    )


def _telegram(settings: Settings) -> ChannelAdapter | None:
    """The Telegram bot adapter when a bot token is configured (one client and event loop per process)."""
    if not settings.telegram_bot_token:
        return None
    from bots.telegram_bot import TelegramChannel
    from bots.telegram_client import TelegramClient

    client = TelegramClient(settings.telegram_bot_token, settings.telegram_api_base,
                            timeout=settings.send_timeout_seconds, pool_size=max(8, settings.dispatch_concurrency * 2))
    return TelegramChannel(client)


def _smtp(settings: Settings) -> ChannelAdapter | None:
    """The SMTP email adapter when a mail server is configured (connections are pooled per process)."""
    if not settings.smtp_host:
        return None
    from bots.email_smtp import SmtpEmailChannel

    return SmtpEmailChannel(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        ssl=settings.smtp_ssl,
        ca_file=settings.smtp_ca_file,
        timeout=settings.send_timeout_seconds,
        rate_per_second=settings.smtp_rate_per_second,
        pool_size=max(2, settings.dispatch_concurrency),
    )


def build_adapters(settings: Settings) -> dict[Channel, ChannelAdapter]:
    """Web always; a sandboxed channel to the inbox; any other channel through its provider when configured."""
    adapters: dict[Channel, ChannelAdapter] = {Channel.WEB: WebLinkChannel()}
    real = {Channel.SMS: _twilio, Channel.EMAIL: _smtp, Channel.TELEGRAM: _telegram}
    for channel in (Channel.SMS, Channel.EMAIL, Channel.TELEGRAM):
        if channel.value in settings.sandbox_channels:
            adapters[channel] = SandboxChannel(channel.value, _sandbox_sink)
        elif channel in real and (adapter := real[channel](settings)) is not None:
            adapters[channel] = adapter
    return adapters


def adapters() -> dict[Channel, ChannelAdapter]:
    """The adapters of the app in context."""
    cache = current_app.extensions.setdefault("surveyd.channels", {})
    if "adapters" not in cache:
        cache["adapters"] = build_adapters(current_app.config["SURVEYD"])
    return cache["adapters"]


def limiter() -> Limiter:
    """The provider rate limiter of the app in context: Redis-backed when Redis is configured."""
    cache = current_app.extensions.setdefault("surveyd.channels", {})
    if "limiter" not in cache:
        cache["limiter"] = build_limiter(current_app.config["SURVEYD"].redis_url)
    return cache["limiter"]


def adapter(channel: Channel) -> ChannelAdapter | None:
    """The adapter for one channel, or None when the channel is off here."""
    return adapters().get(channel)


def sandboxes_everything() -> bool:
    """Whether every customer channel goes to the sandbox (SURVEYD_SANDBOX=1): then Slack and webhooks do too."""
    return set(SANDBOXABLE) <= settings().sandbox_channels


def _sandbox_http_sink(message: OutboundMessage) -> str:
    """Keep the POST a Slack or webhook message would make, body and real headers, in the caller's transaction."""
    from bots.slack_webhook import SlackWebhookChannel
    from bots.webhook_http import SignedWebhookChannel

    extra = {key: value for key, value in message.extra.items() if key not in ("secret", "blocks")}
    # The very request the real client would make: a webhook's signature verifies like the real one's.
    client = SignedWebhookChannel() if message.channel == "webhook" else SlackWebhookChannel()
    raw, headers = client.request(message)
    body, audience = raw.decode("utf-8"), "integrator" if message.channel == "webhook" else "agent"
    parts = urlsplit(message.to)
    host = parts.netloc.rpartition("@")[2]  # a path (a Slack URL is its own secret) or credentials are never kept
    row = SandboxMessage(channel=message.channel, recipient=f"{parts.scheme}://{host}", text=body,
                         extra={"audience": audience, **extra, "method": "POST",
                                "http_headers": [["Host", host], *headers.items()]})
    db.session.add(row)
    db.session.flush()
    return str(row.id)


def sandbox_http_adapter(name: str) -> ChannelAdapter:
    """Stands in for the Slack or webhook HTTP client: the request lands in the sandbox inbox, nothing leaves."""
    return SandboxChannel(name, _sandbox_http_sink)


def notification_adapter(channel: str) -> ChannelAdapter | None:
    """The adapter an alert's message goes out through: the customer channels' own for email, Telegram and SMS
    (an agent's reply; sandboxed with them), an SSRF-guarded HTTP client for Slack (the sandbox when everything
    is sandboxed); None when that channel is off."""
    if channel in (Channel.EMAIL.value, Channel.TELEGRAM.value, Channel.SMS.value):
        return adapters().get(Channel(channel))
    cache = current_app.extensions.setdefault("surveyd.channels", {})
    if channel == "slack" and sandboxes_everything():
        return cache.setdefault("sandbox-slack", sandbox_http_adapter("slack"))
    if channel == "slack":
        if "slack" not in cache:
            from bots.slack_webhook import SlackWebhookChannel

            config = current_app.config["SURVEYD"]
            cache["slack"] = SlackWebhookChannel(timeout=config.send_timeout_seconds,
                                                 allow_private=config.outbound_allow_private)
        return cache["slack"]
    return None
