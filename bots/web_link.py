"""The web-link channel: a signed link is the message, the survey page's form post is the answer."""
from __future__ import annotations

from typing import Mapping
from urllib.parse import parse_qs

from bots.channel import (
    ChannelAdapter,
    InboundEvent,
    OutboundMessage,
    SendResult,
    WebhookRejected,
)

TOKEN_HEADER = "X-Surveyd-Token"
MAX_TEXT = 4000


class WebLinkChannel(ChannelAdapter):
    """Hands the link back to the caller; reads answers posted from /s/<token>."""

    name = "web"

    def send(self, message: OutboundMessage) -> SendResult:
        """Nothing travels: the caller already holds the link."""
        return SendResult(provider_message_id=None, status="sent")

    def verify_request(self, headers: Mapping[str, str], body: bytes) -> None:
        """The signed token in the path is the credential; the view passes it as a header."""
        if not headers.get(TOKEN_HEADER):
            raise WebhookRejected("missing survey token", status=404)

    def parse_inbound(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """One answer event from a form-encoded page post: score plus follow-up fields by question id."""
        self.verify_request(headers, body)
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise WebhookRejected("form is not UTF-8", status=400) from None
        fields = {key: values[-1] for key, values in form.items() if values}
        raw_score = fields.pop("score", "").strip()
        score = None
        if raw_score:
            # isdecimal, not isdigit: int() refuses digits such as "²"; long strings overflow int()'s digit limit.
            if not raw_score.lstrip("-").isdecimal() or len(raw_score) > 9:
                raise WebhookRejected("score must be a whole number", status=400)
            score = int(raw_score)
        answers = {key: value.strip()[:MAX_TEXT] for key, value in fields.items() if value.strip()}
        return [
            InboundEvent(
                kind="answer", channel=self.name, dispatch_ref=headers[TOKEN_HEADER], score=score, answers=answers
            )
        ]
