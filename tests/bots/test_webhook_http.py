"""The signed-webhook channel against a real local receiver, its signatures checked by the reference library."""
from __future__ import annotations

import json
import time

import pytest
from standardwebhooks.webhooks import Webhook

from bots.channel import OutboundMessage, PermanentChannelError, TransientChannelError
from bots.outbound_http import OutboundRefused
from bots.standard_webhooks import new_secret, verify
from bots.webhook_http import SignedWebhookChannel
from tests.fakes.http_receiver import HttpReceiver

PAYLOAD = {"type": "alert.created", "data": {"alert_id": 41, "score": 3, "comment": "Paket hasarlı geldi"}}


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def channel():
    return SignedWebhookChannel(timeout=5, allow_private=True)


def message(url: str, secret: str, timestamp: int | None = None, **extra) -> OutboundMessage:
    fields = {"secret": secret, "webhook_id": "msg_alert_41", "timestamp": timestamp or int(time.time()), **extra}
    return OutboundMessage(channel="webhook", to=url, text=json.dumps(PAYLOAD, ensure_ascii=False), extra=fields)


def test_send_posts_the_body_signed_as_standard_webhooks(receiver, channel):
    secret, timestamp = new_secret(), int(time.time())
    receiver.answer(202, {}, "x" * 300)
    result = channel.send(message(receiver.base_url + "/hooks/surveyd", secret, timestamp))
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/surveyd")
    assert json.loads(request.body) == PAYLOAD
    assert request.headers["webhook-id"] == "msg_alert_41"
    assert request.headers["webhook-timestamp"] == str(timestamp)
    assert request.headers["content-type"] == "application/json"
    assert Webhook(secret).verify(request.body, request.headers) == PAYLOAD  # the reference library agrees
    verify(secret, request.headers, request.body, now=timestamp)
    assert result.provider_message_id is None and result.status == "sent"
    assert result.detail["status"] == 202 and result.detail["body"] == "x" * 200
    assert isinstance(result.detail["elapsed_ms"], int)


def test_410_is_permanently_gone(receiver, channel):
    receiver.answer(410, {}, "endpoint disabled")
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(message(receiver.base_url, new_secret()))
    assert caught.value.code == "gone"


def test_429_with_retry_after_is_transient(receiver, channel):
    receiver.answer(429, {"Retry-After": "7"})
    with pytest.raises(TransientChannelError) as caught:
        channel.send(message(receiver.base_url, new_secret()))
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 500, 503])
def test_every_other_failure_is_retried(receiver, channel, status):
    receiver.answer(status, {}, "nope")
    with pytest.raises(TransientChannelError) as caught:
        channel.send(message(receiver.base_url, new_secret()))
    assert not isinstance(caught.value, PermanentChannelError) and str(status) in str(caught.value)


def test_a_redirect_is_a_failure_and_not_followed(receiver, channel):
    with HttpReceiver() as elsewhere:
        receiver.redirect(elsewhere.base_url + "/hook", status=308)
        with pytest.raises(TransientChannelError, match="not followed"):
            channel.send(message(receiver.base_url, new_secret()))
        assert len(receiver.requests) == 1 and elsewhere.requests == []


def test_a_stalled_receiver_times_out_as_transient(receiver):
    receiver.stall()
    try:
        with pytest.raises(TransientChannelError, match="timed out"):
            SignedWebhookChannel(timeout=0.2, allow_private=True).send(message(receiver.base_url, new_secret()))
        assert receiver.wait_for_requests(1)
    finally:
        receiver.release()


def test_by_default_local_addresses_are_refused(receiver):
    to_localhost = SignedWebhookChannel(resolver=lambda *args, **kwargs: [(2, 1, 6, "", ("127.0.0.1", 0))])
    for url, code in ((receiver.base_url, "loopback"), (f"https://hooks.example.test:{receiver.port}/", "loopback"),
                      (f"http://hooks.example.test:{receiver.port}/", "https_required")):
        with pytest.raises(OutboundRefused) as caught:
            to_localhost.send(message(url, new_secret()))
        assert caught.value.code == code
    assert receiver.requests == []


def test_a_message_without_its_secret_is_a_caller_bug(receiver, channel):
    incomplete = OutboundMessage(channel="webhook", to=receiver.base_url, text="{}",
                                 extra={"webhook_id": "msg_1", "timestamp": 1})
    with pytest.raises(ValueError, match="secret"):
        channel.send(incomplete)
    assert receiver.requests == []


def test_no_rate_limits(channel):
    assert channel.name == "webhook"
    assert channel.rate_limits(message("https://hooks.example.test/", new_secret())) == []
