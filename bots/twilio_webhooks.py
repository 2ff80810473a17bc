"""Twilio's webhooks: prove a request is Twilio's, then read an inbound SMS or a status callback out of it.

Signature pitfalls covered (Twilio's "webhooks security" guide):
- Twilio signs the URL it called, so the URL is rebuilt from the configured public URL, never from
  the Host header or scheme this process sees behind a proxy or load balancer.
- Twilio's own signing is inconsistent about the default port, so the SDK's validator tries the
  URL with and without it.
- Parameters are signed sorted by name, every value of a repeated name included: they are passed on
  as a list of pairs in the order received, so re-ordering changes nothing and a dropped or added
  parameter breaks the signature.
- The query string is part of the signed URL.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from bots.channel import InboundEvent, WebhookRejected
from bots.sms_twilio import INVALID_ADDRESS_CODES, OPTED_OUT_CODES

# Keywords Twilio answers itself on a number with default opt-out handling: a confirmation of ours
# would be a second one (or be blocked, once the number has said STOP).
TWILIO_MANAGED_KEYWORDS = frozenset({
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
    "START", "YES", "UNSTOP", "HELP", "INFO",
})
MAX_BODY = 1600  # Twilio's longest concatenated message
# Delivery errors that say the number itself is no good: unreachable, unknown, a landline.
UNDELIVERABLE_NUMBER_CODES = frozenset({30003, 30005, 30006})


class _Params:
    """A list of form pairs with the multi-value lookup the SDK's validator asks for."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self._pairs = pairs

    def __iter__(self):
        return iter(name for name, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def getall(self, name: str) -> list[str]:
        """Every value sent under this name."""
        return [value for key, value in self._pairs if key == name]


def signed_url(public_url: str, path: str, query_string: str = "") -> str:
    """The URL Twilio called and signed: the public base, the path, and the query string if any."""
    url = public_url.rstrip("/") + path
    return f"{url}?{query_string}" if query_string else url


def verify(auth_token: str | None, url: str, headers: Mapping[str, str], pairs: Iterable[tuple[str, str]]) -> None:
    """Raise WebhookRejected unless X-Twilio-Signature is Twilio's signature of this URL and these parameters."""
    if not auth_token:
        raise WebhookRejected("Twilio is not configured here")
    signature = headers.get(SIGNATURE_HEADER) or ""
    if not signature:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER}")
    algorithm = get_signature_algorithm(headers.get(SIGNATURE_SETTINGS_HEADER))
    if not RequestValidator(auth_token).validate(url, _Params(list(pairs)), signature, algorithm):
        raise WebhookRejected(f"{SIGNATURE_HEADER} does not match this request")


def _one(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise WebhookRejected(f"{name} is missing", status=400)
    return value


def parse_message(params: Mapping[str, str]) -> InboundEvent:
    """An inbound SMS: who sent what, under Twilio's MessageSid."""
    body = params.get("Body") or ""
    opt_out_type = (params.get("OptOutType") or "").strip().upper()
    # With Advanced Opt-Out Twilio says so (OptOutType); with default handling it answers its own keywords.
    confirmed = bool(opt_out_type) or body.strip().upper() in TWILIO_MANAGED_KEYWORDS
    return InboundEvent(
        kind="message",
        channel="sms",
        sender=_one(params, "From"),
        text=body[:MAX_BODY],
        provider_event_id=_one(params, "MessageSid"),
        provider_confirms=confirmed,
    )


def failure_reason(error_code: str | None) -> str:
    """Our reason for a failed delivery, from Twilio's error code."""
    code = int(error_code) if error_code and error_code.isdigit() else None
    if code in OPTED_OUT_CODES:
        return "opted_out"
    if code in INVALID_ADDRESS_CODES or code in UNDELIVERABLE_NUMBER_CODES:
        return "invalid_address"
    return "undelivered"


def parse_status(params: Mapping[str, str]) -> InboundEvent:
    """A status callback: which message reached which state, with Twilio's error code if it failed."""
    sid = _one(params, "MessageSid")
    status = _one(params, "MessageStatus").lower()
    error_code = (params.get("ErrorCode") or "").strip() or None
    return InboundEvent(
        kind="status",
        channel="sms",
        sender=params.get("To") or None,
        dispatch_ref=sid,
        text=status,
        provider_event_id=f"{sid}:{status}",
        error_code=error_code,
        reason=failure_reason(error_code) if status in ("undelivered", "failed") else None,
    )
