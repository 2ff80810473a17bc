"""The Slack incoming-webhook channel against a local receiver that answers as Slack does."""
from __future__ import annotations

import hashlib
import json

import pytest

from bots.channel import (
    OutboundMessage,
    PermanentChannelError,
    RateLimit,
    TransientChannelError,
)
from bots.outbound_http import OutboundRefused
from bots.slack_webhook import SlackWebhookChannel
from tests.fakes.http_receiver import HttpReceiver

TEXT = "Yeni uyarı: NPS 2 — «Kargo geç geldi»"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*NPS 2* from Ayşe"}}]


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def channel():
    return SlackWebhookChannel(timeout=5, allow_private=True)


def message(url: str, **extra) -> OutboundMessage:
    return OutboundMessage(channel="slack", to=url, text=TEXT, extra=extra)


def test_send_posts_text_and_blocks_as_json(receiver, channel):
    receiver.answer(200, {"Content-Type": "text/html"}, "ok")
    result = channel.send(message(receiver.base_url + "/services/T000/B000/XXXX", blocks=BLOCKS))
    (request,) = receiver.requests
    assert request.path == "/services/T000/B000/XXXX"
    assert request.headers["content-type"].startswith("application/json")
    assert json.loads(request.body.decode("utf-8")) == {"text": TEXT, "blocks": BLOCKS}
    assert result.provider_message_id is None
    assert result.detail["status"] == 200 and result.detail["body"] == "ok"


def test_blocks_are_left_out_when_absent(receiver, channel):
    channel.send(message(receiver.base_url))
    assert json.loads(receiver.requests[0].body) == {"text": TEXT}


@pytest.mark.parametrize(("status", "body", "code"), [
    (400, "invalid_payload", "rejected"), (403, "action_prohibited", "rejected"), (404, "no_service", "rejected"),
    (404, "channel_not_found", "rejected"), (410, "channel_is_archived", "gone"),
])
def test_slacks_refusals_are_permanent(receiver, channel, status, body, code):
    receiver.answer(status, {"Content-Type": "text/html"}, body)
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(message(receiver.base_url))
    assert caught.value.code == code and body in str(caught.value)


def test_429_with_retry_after_is_transient(receiver, channel):
    receiver.answer(429, {"Retry-After": "30"}, "rate_limited")
    with pytest.raises(TransientChannelError) as caught:
        channel.send(message(receiver.base_url))
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(receiver, channel, status):
    receiver.answer(status)
    with pytest.raises(TransientChannelError) as caught:
        channel.send(message(receiver.base_url))
    assert not isinstance(caught.value, PermanentChannelError)


def test_a_stalled_slack_times_out_as_transient(receiver):
    receiver.stall()
    try:
        with pytest.raises(TransientChannelError, match="timed out"):
            SlackWebhookChannel(timeout=0.2, allow_private=True).send(message(receiver.base_url))
        assert receiver.wait_for_requests(1)
    finally:
        receiver.release()


def test_by_default_local_addresses_are_refused(receiver):
    with pytest.raises(OutboundRefused):
        SlackWebhookChannel().send(message(receiver.base_url))
    assert receiver.requests == []


def test_one_rate_bucket_per_webhook_url(channel):
    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    expected_key = "slack:" + hashlib.sha256(url.encode()).hexdigest()[:16]
    assert channel.name == "slack"
    assert channel.rate_limits(message(url)) == [RateLimit(key=expected_key, per_second=1.0, burst=3)]
    assert channel.rate_limits(message(url + "Y"))[0].key != expected_key
