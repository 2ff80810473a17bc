"""The channel adapters this process can use, built once per app from its settings."""
from __future__ import annotations

from flask import current_app

from bots.channel import ChannelAdapter, OutboundMessage
from bots.sandbox import SandboxChannel
from bots.web_link import WebLinkChannel
from surveyd.config import Settings
from surveyd.extensions import db
from surveyd.models import Channel, SandboxMessage


def _sandbox_sink(message: OutboundMessage) -> str:
    """Store a sandbox delivery in the caller's transaction."""
    row = SandboxMessage(
        dispatch_id=message.dispatch_id,
        channel=Channel(message.channel),
        recipient=message.to,
        subject=message.subject,
        text=message.text,
        html=message.html,
        extra=dict(message.extra),
    )
    db.session.add(row)
    db.session.flush()
    return str(row.id)


def build_adapters(settings: Settings) -> dict[Channel, ChannelAdapter]:
    """Web always; every other channel through the sandbox when it is on (real providers come per channel)."""
    adapters: dict[Channel, ChannelAdapter] = {Channel.WEB: WebLinkChannel()}
    if settings.sandbox:
        for channel in (Channel.SMS, Channel.EMAIL, Channel.TELEGRAM):
            adapters[channel] = SandboxChannel(channel.value, _sandbox_sink)
    return adapters


def adapters() -> dict[Channel, ChannelAdapter]:
    """The adapters of the app in context."""
    cache = current_app.extensions.setdefault("surveyd.channels", {})
    if "adapters" not in cache:
        cache["adapters"] = build_adapters(current_app.config["SURVEYD"])
    return cache["adapters"]


def adapter(channel: Channel) -> ChannelAdapter | None:
    """The adapter for one channel, or None when the channel is off here."""
    return adapters().get(channel)
