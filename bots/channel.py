"""The one small interface every channel adapter implements."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class OutboundMessage:
    """A rendered message for one recipient on one channel."""

    channel: str
    to: str
    text: str
    dispatch_id: int | None = None
    subject: str | None = None
    html: str | None = None
    locale: str = "en"
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it took the message."""

    provider_message_id: str | None
    status: str = "sent"
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundEvent:
    """One normalised thing a customer or provider told us: an answer, a text, a status, a keyword."""

    kind: str
    channel: str
    sender: str | None = None
    dispatch_ref: str | None = None
    score: int | None = None
    answers: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None
    provider_event_id: str | None = None


class ChannelError(Exception):
    """A send did not go through."""


class TransientChannelError(ChannelError):
    """Worth trying again later, after retry_after seconds when the provider said so."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentChannelError(ChannelError):
    """Never worth retrying on this channel; the code says why (e.g. opted_out, invalid_address)."""

    def __init__(self, message: str, code: str = "rejected"):
        super().__init__(message)
        self.code = code


class WebhookRejected(Exception):
    """An inbound request that is not what it claims to be; answered with 4xx and never stored."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


class ChannelAdapter(abc.ABC):
    """Sends to and hears from one channel."""

    name: str

    @abc.abstractmethod
    def send(self, message: OutboundMessage) -> SendResult:
        """Hand one message to the provider."""

    def verify_request(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise WebhookRejected unless the inbound request really comes from the provider."""

    def parse_inbound(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """The normalised events in an inbound request."""
        return []
