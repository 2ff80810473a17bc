"""What the Slack and webhook adapters share: build one JSON POST, send it over the SSRF-guarded client."""
from __future__ import annotations

import abc
import socket

from bots.channel import ChannelAdapter, OutboundMessage, SendResult
from bots.outbound_http import Resolver, classify, post

DETAIL_BODY_CHARS = 200


class HttpPostChannel(ChannelAdapter):
    """An adapter whose message is one POST: subclasses say what goes in it and which refusals are final."""

    permanent_statuses: frozenset[int] = frozenset()

    def __init__(self, timeout: float = 15, allow_private: bool = False, resolver: Resolver = socket.getaddrinfo):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self.allow_private = allow_private
        self.resolver = resolver

    @abc.abstractmethod
    def request(self, message: OutboundMessage) -> tuple[bytes, dict[str, str]]:
        """The body and headers of the POST this message makes (the sandbox keeps them instead of sending)."""

    def send(self, message: OutboundMessage) -> SendResult:
        """POST the message to message.to; a non-2xx answer raises the channel error classify() picks."""
        body, headers = self.request(message)
        answer = post(message.to, body, headers, timeout=self.timeout, allow_private=self.allow_private,
                      resolver=self.resolver)
        classify(answer, permanent_statuses=self.permanent_statuses)
        return SendResult(provider_message_id=None, detail={
            "status": answer.status, "elapsed_ms": answer.elapsed_ms, "body": answer.body[:DETAIL_BODY_CHARS]})
