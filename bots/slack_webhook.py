"""Alert notifications to a Slack channel through an incoming-webhook URL, over the SSRF-guarded POST."""
from __future__ import annotations

import hashlib
import json

from bots.channel import OutboundMessage, RateLimit
from bots.http_channel import HttpPostChannel

# Slack's answers: 400 invalid_payload, 403 action_prohibited, 404 no_service / channel_not_found
# (410 channel_is_archived is "gone" in classify): none of them gets better by trying again.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404})
# Slack allows about one message per second per webhook, with short bursts.
PER_SECOND, BURST = 1.0, 3
JSON_UTF8 = "application/json; charset=utf-8"


class SlackWebhookChannel(HttpPostChannel):
    """Posts message.text (and optional Block Kit blocks from message.extra) to the webhook URL in message.to."""

    name = "slack"
    permanent_statuses = PERMANENT_STATUSES

    def request(self, message: OutboundMessage) -> tuple[bytes, dict[str, str]]:
        """Slack's JSON: the text, and the blocks when there are any."""
        payload: dict[str, object] = {"text": message.text}
        blocks = message.extra.get("blocks")
        if blocks is not None:
            payload["blocks"] = blocks
        return json.dumps(payload, ensure_ascii=False).encode("utf-8"), {"content-type": JSON_UTF8}

    def rate_limits(self, message: OutboundMessage) -> list[RateLimit]:
        """One bucket per webhook URL, keyed by a hash so the URL (itself a secret) is not written anywhere."""
        key = "slack:" + hashlib.sha256(message.to.encode("utf-8")).hexdigest()[:16]
        return [RateLimit(key=key, per_second=PER_SECOND, burst=BURST)]
