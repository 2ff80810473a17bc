"""The one small interface every channel adapter implements."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
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
    # A string unique to this dispatch that the provider keeps with the message (the survey link in
    # the body), so a send whose outcome is unknown can be found again instead of sent twice.
    reference: str | None = None


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
    # True when the provider already answered this keyword itself, so our own confirmation would be a second one.
    provider_confirms: bool = False
    error_code: str | None = None  # the provider's own code for a failed delivery
    reason: str | None = None  # what that code means to us: opted_out, invalid_address, undelivered


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


class AmbiguousChannelError(ChannelError):
    """The request may have reached the provider but no answer came back (a read timeout): never resend blindly."""


class LookupUnsupported(ChannelError):
    """This provider cannot say whether it already has a message."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket a send must take from: key names the bucket shared by every worker."""

    key: str
    per_second: float
    burst: int = 1


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

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """The provider's record of a message sent since then (found by its reference), or None if it has none."""
        raise LookupUnsupported(f"{self.name} cannot look up sent messages")

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """The buckets this send must take a token from; none by default."""
        return []

    def verify_request(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise WebhookRejected unless the inbound request really comes from the provider."""

    def parse_inbound(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """The normalised events in an inbound request."""
        return []
