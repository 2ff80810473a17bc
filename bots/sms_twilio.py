"""SMS through Twilio's Messages API, using the official twilio SDK."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError

from bots.channel import (
    AmbiguousChannelError,
    ChannelAdapter,
    ChannelError,
    LookupUnsupported,
    OutboundMessage,
    PermanentChannelError,
    RateLimit,
    SendResult,
    TransientChannelError,
)

TWILIO_API = "https://api.twilio.com"
OPTED_OUT_CODES = frozenset({21610})
# Numbers that are malformed, not mobile, unroutable or in a region the account may not reach.
INVALID_ADDRESS_CODES = frozenset({21211, 21217, 21401, 21408, 21421, 21612, 21614})
AUTH_CODES = frozenset({20003})
LOOKUP_PAGE = 100
LOOKUP_SCAN = 2000  # messages to one number in the window before we admit we cannot tell
# The SDK falls back to os.environ when given a falsy mapping; this non-empty one keeps
# TWILIO_EDGE / TWILIO_REGION from rewriting hostnames behind api_base's back.
_NO_ENVIRONMENT = {"TWILIO_EDGE": "", "TWILIO_REGION": ""}


class RedirectingHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending to api_base instead of api.twilio.com and keeping the last headers."""

    def __init__(self, api_base: str, timeout: float):
        super().__init__(pool_connections=True, timeout=timeout)
        self.api_base = api_base.rstrip("/")
        self.last_headers: Mapping[str, str] = {}

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Make the SDK's request against api_base; remember the answer's headers (Retry-After)."""
        if url == TWILIO_API or url.startswith(TWILIO_API + "/"):
            url = self.api_base + url[len(TWILIO_API):]
        self.last_headers = {}
        response = super().request(
            method, url, params=params, data=data, headers=headers, auth=auth,
            timeout=timeout, allow_redirects=allow_redirects,
        )
        self.last_headers = response.headers or {}
        return response


class TwilioSmsChannel(ChannelAdapter):
    """Sends SMS from one number or Messaging Service and finds sends whose answer was lost."""

    name = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_base: str = TWILIO_API,
        status_callback: str | None = None,
        rate_per_second: float = 10.0,
        timeout: float = 10.0,
    ):
        if bool(from_number) == bool(messaging_service_sid):
            raise ValueError("give exactly one of from_number and messaging_service_sid")
        if not api_base.startswith(("http://", "https://")):
            raise ValueError(f"api_base must be an http(s) URL, not {api_base!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.api_base = api_base
        self.status_callback = status_callback
        self.rate_per_second = rate_per_second
        self.timeout = timeout
        # requests.Session and the SDK's "last response" are not thread-safe, so each worker
        # thread gets its own Client, whose Session keeps its connection alive between sends.
        self._local = threading.local()

    def _client(self) -> Client:
        """This thread's Client, made on first use."""
        client = getattr(self._local, "client", None)
        if client is None:
            http = RedirectingHttpClient(self.api_base, self.timeout)
            client = Client(self.account_sid, self._auth_token, http_client=http, environment=_NO_ENVIRONMENT)
            self._local.client = client
        return client

    def send(self, message: OutboundMessage) -> SendResult:
        """Create the message at Twilio; raise Transient, Permanent or Ambiguous errors when it fails."""
        client = self._client()
        options: dict[str, str] = {"to": message.to, "body": message.text}
        if self.from_number:
            options["from_"] = self.from_number
        else:
            options["messaging_service_sid"] = self.messaging_service_sid or ""
        if self.status_callback:
            # The dispatch rides in the callback URL: a callback still finds its dispatch when the
            # answer to the create request (with the MessageSid) was lost.
            joiner = "&" if "?" in self.status_callback else "?"
            suffix = f"{joiner}dispatch={message.dispatch_id}" if message.dispatch_id is not None else ""
            options["status_callback"] = self.status_callback + suffix
        try:
            created = client.messages.create(**options)
        except TwilioException as exc:
            raise _provider_error(exc, client.http_client.last_headers) from exc
        except requests.RequestException as exc:
            if _never_sent(exc):
                raise TransientChannelError(f"twilio unreachable: {exc}") from exc
            raise AmbiguousChannelError(f"twilio may have the message, no answer came: {exc}") from exc
        except ValueError as exc:
            # A 2xx whose body is not JSON: Twilio most likely created the message.
            raise AmbiguousChannelError(f"twilio answered unreadably: {exc}") from exc
        return _result(created)

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """Twilio's record of a message to this recipient created since then whose body holds the reference."""
        if message.reference is None:
            raise LookupUnsupported("a message without a reference cannot be found again")
        client = self._client()
        # No DateSent filter: Twilio leaves date_sent empty while it still queues a message, and
        # that is exactly the message we are looking for. Newest first, down to the window's start.
        filters: dict[str, Any] = {"to": message.to, "page_size": LOOKUP_PAGE}
        if self.from_number:
            filters["from_"] = self.from_number
        start = _utc(since).replace(tzinfo=timezone.utc)
        try:
            for scanned, record in enumerate(client.messages.stream(**filters)):
                if record.body and message.reference in record.body:
                    return _result(record)
                if record.date_created is not None and record.date_created < start:
                    return None
                if scanned >= LOOKUP_SCAN:
                    raise LookupUnsupported(f"more than {LOOKUP_SCAN} messages to this number since {since}")
        except TwilioException as exc:
            raise _provider_error(exc, client.http_client.last_headers) from exc
        except requests.RequestException as exc:
            # Listing changes nothing, so any network failure is simply worth another try.
            raise TransientChannelError(f"twilio lookup failed: {exc}") from exc
        except ValueError as exc:
            raise TransientChannelError(f"twilio lookup answered unreadably: {exc}") from exc
        return None

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """One bucket per sender, shared by every worker; none when rate_per_second <= 0."""
        if self.rate_per_second <= 0:
            return []
        key = "twilio:" + (self.messaging_service_sid or self.from_number or "")
        return [RateLimit(key, self.rate_per_second, burst=max(1, int(self.rate_per_second)))]


def _result(record: Any) -> SendResult:
    """The SendResult for a Twilio MessageInstance."""
    detail: dict[str, Any] = {"twilio_status": record.status}
    if record.num_segments is not None:
        # Twilio sends the count as a string.
        detail["segments"] = int(record.num_segments) if str(record.num_segments).isdigit() else record.num_segments
    return SendResult(provider_message_id=record.sid, status="sent", detail=detail)


def _utc(moment: datetime) -> datetime:
    """The SDK formats datetimes with a literal "Z" without converting, so hand it UTC (naive means UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when no connection was made, so Twilio cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # NewConnectionError (refused) and NameResolutionError (DNS) subclass ConnectTimeoutError.
    return isinstance(reason, ConnectTimeoutError)


def _error_fields(exc: TwilioException) -> tuple[int | None, int | None, str]:
    """Status, Twilio code and message from whichever of the SDK's exception shapes this is."""
    status, code = getattr(exc, "status", None), getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None)
    if status is None and len(exc.args) == 2 and isinstance(exc.args[1], Response):
        # Listing raises a bare TwilioException("Unable to fetch page", response) on any non-200.
        response = exc.args[1]
        status, text = response.status_code, str(exc.args[0])
        try:
            body = json.loads(response.text)
            code, text = body.get("code"), f"{text}: {body.get('message')}"
        except (ValueError, AttributeError):
            pass
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    return status, code, text or exc.__class__.__name__


def _provider_error(exc: TwilioException, headers: Mapping[str, str]) -> ChannelError:
    """The channel error for an error answer from Twilio."""
    status, code, text = _error_fields(exc)
    # Built by hand: str(TwilioRestException) adds ANSI colours when stderr is a terminal.
    summary = f"twilio HTTP {status} code {code}: {text}"
    if status == 429:
        return TransientChannelError(summary, retry_after=_retry_after(headers.get("Retry-After")))
    if status is None or status >= 500:
        return TransientChannelError(summary)
    if code in OPTED_OUT_CODES:
        return PermanentChannelError(summary, code="opted_out")
    if code in INVALID_ADDRESS_CODES:
        return PermanentChannelError(summary, code="invalid_address")
    if status == 401 or code in AUTH_CODES:
        return PermanentChannelError(summary, code="provider_auth")
    return PermanentChannelError(summary, code="rejected")


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date turned into seconds from now."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
