"""The sandbox channel: every message lands in an inbox the demo and tests can read."""
from __future__ import annotations

from typing import Callable

from bots.channel import ChannelAdapter, OutboundMessage, SendResult

Sink = Callable[[OutboundMessage], str]


class SandboxChannel(ChannelAdapter):
    """Stands in for a real provider of one channel; the sink stores the message and names it."""

    def __init__(self, name: str, sink: Sink):
        self.name = name
        self._sink = sink

    def send(self, message: OutboundMessage) -> SendResult:
        """Deliver to the sandbox inbox; delivery is immediate and certain."""
        message_id = self._sink(message)
        return SendResult(provider_message_id=f"sandbox-{message_id}", status="delivered")
