"""Alert notifications to an integrator's URL as Standard Webhooks: signed JSON over an SSRF-guarded POST."""
from __future__ import annotations

from typing import Any, Mapping

from bots.channel import OutboundMessage, RateLimit
from bots.http_channel import HttpPostChannel
from bots.standard_webhooks import signed_headers

USER_AGENT = "surveyd-webhooks"


def _required(extra: Mapping[str, Any], key: str) -> Any:
    """One of the values the caller must put in message.extra; ValueError names the missing one."""
    value = extra.get(key)
    if value is None or value == "":
        raise ValueError(f"a webhook message needs extra[{key!r}]")
    return value


class SignedWebhookChannel(HttpPostChannel):
    """POSTs message.text (JSON) to message.to, signed with the endpoint's whsec_ secret; Standard Webhooks
    retries on every failure, so no status but 410 ("gone") is final."""

    name = "webhook"

    def request(self, message: OutboundMessage) -> tuple[bytes, dict[str, str]]:
        """The body as given, with the signature headers; the id stays the same across retries of one message,
        so the receiver can drop repeats."""
        body = message.text.encode("utf-8")
        headers = signed_headers(_required(message.extra, "secret"), str(_required(message.extra, "webhook_id")),
                                 int(_required(message.extra, "timestamp")), body)
        return body, {**headers, "user-agent": USER_AGENT}

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """None: an integrator's endpoint sets no published limit, and alerts are few."""
        return []
