"""Alert notifications to an integrator's URL as Standard Webhooks: signed JSON over an SSRF-guarded POST."""
from __future__ import annotations

import socket
from typing import Any, Mapping

from bots.channel import ChannelAdapter, OutboundMessage, RateLimit, SendResult
from bots.outbound_http import Resolver, classify, post
from bots.standard_webhooks import signed_headers

USER_AGENT = "surveyd-webhooks"
DETAIL_BODY_CHARS = 200


def _required(extra: Mapping[str, Any], key: str) -> Any:
    """One of the values the caller must put in message.extra; ValueError names the missing one."""
    value = extra.get(key)
    if value is None or value == "":
        raise ValueError(f"a webhook message needs extra[{key!r}]")
    return value


class SignedWebhookChannel(ChannelAdapter):
    """POSTs message.text (JSON) to message.to, signed with the endpoint's whsec_ secret."""

    name = "webhook"

    def __init__(self, timeout: float = 15, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self.allow_private = allow_private
        self.resolver = resolver

    def send(self, message: OutboundMessage) -> SendResult:
        """Sign and POST one message; every non-2xx is a failure, 410 a permanent "gone"."""
        body = message.text.encode("utf-8")
        # The id stays the same across retries of one message, so the receiver can drop repeats.
        headers = signed_headers(_required(message.extra, "secret"), str(_required(message.extra, "webhook_id")),
                                 int(_required(message.extra, "timestamp")), body)
        headers["user-agent"] = USER_AGENT
        answer = post(message.to, body, headers, timeout=self.timeout, allow_private=self.allow_private,
                      resolver=self.resolver)
        # Standard Webhooks retries on every failure, so no status but 410 is final here.
        classify(answer)
        return SendResult(provider_message_id=None, detail={
            "status": answer.status, "elapsed_ms": answer.elapsed_ms, "body": answer.body[:DETAIL_BODY_CHARS]})

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """None: an integrator's endpoint sets no published limit, and alerts are few."""
        return []
