"""Alert notifications to a Slack channel through an incoming-webhook URL, over the SSRF-guarded POST."""
from __future__ import annotations

import hashlib
import json
import socket

from bots.channel import ChannelAdapter, OutboundMessage, RateLimit, SendResult
from bots.outbound_http import Resolver, classify, post

# Slack's answers: 400 invalid_payload, 403 action_prohibited, 404 no_service / channel_not_found
# (410 channel_is_archived is "gone" in classify): none of them gets better by trying again.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404})
# Slack allows about one message per second per webhook, with short bursts.
PER_SECOND, BURST = 1.0, 3
DETAIL_BODY_CHARS = 200


class SlackWebhookChannel(ChannelAdapter):
    """Posts message.text (and optional Block Kit blocks from message.extra) to the webhook URL in message.to."""

    name = "slack"

    def __init__(self, timeout: float = 15, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self.allow_private = allow_private
        self.resolver = resolver

    def send(self, message: OutboundMessage) -> SendResult:
        """POST the message as Slack JSON; Slack's refusals are permanent, 429 and 5xx transient."""
        payload: dict[str, object] = {"text": message.text}
        blocks = message.extra.get("blocks")
        if blocks is not None:
            payload["blocks"] = blocks
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        answer = post(message.to, body, {"content-type": "application/json; charset=utf-8"},
                      timeout=self.timeout, allow_private=self.allow_private, resolver=self.resolver)
        classify(answer, permanent_statuses=PERMANENT_STATUSES)
        return SendResult(provider_message_id=None, detail={
            "status": answer.status, "elapsed_ms": answer.elapsed_ms, "body": answer.body[:DETAIL_BODY_CHARS]})

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """One bucket per webhook URL, keyed by a hash so the URL (itself a secret) is not written anywhere."""
        key = "slack:" + hashlib.sha256(message.to.encode("utf-8")).hexdigest()[:16]
        return [RateLimit(key=key, per_second=PER_SECOND, burst=BURST)]
