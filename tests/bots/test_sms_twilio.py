"""The Twilio SMS adapter, through the real twilio SDK, against a local fake Twilio."""
from __future__ import annotations

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from bots.channel import (
    AmbiguousChannelError,
    LookupUnsupported,
    OutboundMessage,
    PermanentChannelError,
    RateLimit,
    TransientChannelError,
)
from bots.sms_twilio import TwilioSmsChannel
from tests.fakes.twilio_api import FakeTwilio

FROM = "+15005550006"
TO = "+447700900123"
SERVICE = "MG" + "0" * 32


@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def make_channel(fake):
    def make(**overrides):
        options = dict(account_sid=fake.account_sid, auth_token=fake.auth_token, api_base=fake.base_url,
                       timeout=5.0)
        if "messaging_service_sid" not in overrides:
            options["from_number"] = FROM
        options.update(overrides)
        return TwilioSmsChannel(**options)
    return make


def sms(to=TO, reference=None):
    ref = reference or f"https://s.example/r/{uuid.uuid4().hex}"
    return OutboundMessage(channel="sms", to=to, text=f"How did we do? {ref}", reference=ref)


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_send_arrives_with_to_body_from_and_status_callback(fake, make_channel):
    message = sms()
    result = make_channel(status_callback="https://surveyd.test/hooks/twilio").send(message)
    (stored,) = fake.messages
    assert (stored["to"], stored["body"], stored["from"]) == (TO, message.text, FROM)
    assert stored["status_callback"] == "https://surveyd.test/hooks/twilio"
    assert result.provider_message_id == stored["sid"] and result.provider_message_id.startswith("SM")
    assert result.status == "sent"
    assert result.detail == {"twilio_status": "queued", "segments": 1}


def test_messaging_service_instead_of_from(fake, make_channel):
    make_channel(messaging_service_sid=SERVICE).send(sms())
    (stored,) = fake.messages
    assert (stored["messaging_service_sid"], stored["from"], stored["status_callback"]) == (SERVICE, None, None)


def test_every_request_goes_to_api_base(fake, make_channel, monkeypatch):
    urls = []
    real_send = requests.Session.send

    def spy(session, request, **kwargs):
        urls.append(request.url)
        return real_send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", spy)
    channel = make_channel()
    since = datetime.now(timezone.utc) - timedelta(seconds=2)
    sent = [channel.send(sms(reference=f"ref-{i}")) for i in range(3)]
    assert channel.lookup(sms(reference="ref-1"), since).provider_message_id == sent[1].provider_message_id
    # Paging follows next_page_uri, which the SDK makes absolute on api.twilio.com.
    assert len(channel._client().messages.list(to=TO, page_size=1)) == 3
    assert len(urls) == 3 + 1 + 3 and len(fake.queries) == 4
    assert all(url.startswith(fake.base_url + "/2010-04-01/") for url in urls)


@pytest.mark.parametrize("inject", [lambda f: f.fail_next(1), lambda f: f.fail_next(1, status=503),
                                    lambda f: f.outage(status=502)])
def test_server_errors_are_transient(fake, make_channel, inject):
    inject(fake)
    with pytest.raises(TransientChannelError) as caught:
        make_channel().send(sms())
    assert caught.value.retry_after is None
    assert fake.messages == [] and fake.requests[-1]["status"] >= 500


def test_throttling_is_transient_with_retry_after(fake, make_channel):
    fake.throttle_next(1, retry_after=2)
    channel = make_channel()
    with pytest.raises(TransientChannelError) as caught:
        channel.send(sms())
    assert caught.value.retry_after == 2.0
    assert "20429" in str(caught.value)
    channel.send(sms())
    assert [r["status"] for r in fake.requests] == [429, 201]


def test_unsubscribed_recipient_is_opted_out(fake, make_channel):
    fake.unsubscribed.add(TO)
    with pytest.raises(PermanentChannelError) as caught:
        make_channel().send(sms())
    assert caught.value.code == "opted_out" and "21610" in str(caught.value)


def test_bad_number_is_invalid_address(fake, make_channel):
    with pytest.raises(PermanentChannelError) as caught:
        make_channel().send(sms(to="07700 900123"))
    assert caught.value.code == "invalid_address" and "21211" in str(caught.value)


def test_wrong_auth_token_is_provider_auth(fake, make_channel):
    channel = make_channel(auth_token="not-the-token")
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(sms())
    assert caught.value.code == "provider_auth" and "20003" in str(caught.value)
    # Listing fails through another SDK path (a bare TwilioException); it maps the same way.
    with pytest.raises(PermanentChannelError) as caught:
        channel.lookup(sms(), datetime.now(timezone.utc))
    assert caught.value.code == "provider_auth"


def test_nobody_listening_is_transient(make_channel):
    channel = make_channel(api_base=closed_port_url())
    with pytest.raises(TransientChannelError):
        channel.send(sms())
    with pytest.raises(TransientChannelError):
        channel.lookup(sms(), datetime.now(timezone.utc))


def test_lost_answer_is_ambiguous_and_lookup_finds_the_message(fake, make_channel):
    channel = make_channel(timeout=0.5)
    since = datetime.now(timezone.utc)
    message = sms()
    fake.delay_after_store(2)
    with pytest.raises(AmbiguousChannelError):
        channel.send(message)
    assert fake.count_containing(message.reference) == 1
    found = channel.lookup(message, since)
    assert found is not None and found.provider_message_id == fake.messages[0]["sid"]
    assert found.detail["twilio_status"] == "queued"
    assert channel.lookup(sms(), since) is None


def test_lookup_stops_at_the_start_of_its_window_in_any_time_zone(fake, make_channel):
    channel = make_channel()
    for n in range(250):  # three pages of older messages to the same number
        channel.send(sms())
    wanted = sms()
    since = datetime.now(timezone(timedelta(hours=2)))  # an aware time in another zone
    assert channel.lookup(wanted, since + timedelta(minutes=1)) is None
    pages_for_recent_window = len(fake.queries)
    assert pages_for_recent_window == 1  # everything is older than the window: one page read, then stop
    assert channel.lookup(wanted, since - timedelta(hours=1)) is None
    assert len(fake.queries) - pages_for_recent_window == 3  # the whole window was scanned
    channel.send(wanted)
    found = channel.lookup(wanted, since - timedelta(hours=1))
    assert found is not None and found.provider_message_id == fake.messages[-1]["sid"]


def test_lookup_needs_a_reference(make_channel):
    message = OutboundMessage(channel="sms", to=TO, text="hello")
    with pytest.raises(LookupUnsupported):
        make_channel().lookup(message, datetime.now(timezone.utc))


def test_rate_limits_per_sender_and_zero_is_off(make_channel):
    assert make_channel().rate_limits(sms()) == [RateLimit("twilio:" + FROM, 10.0, burst=10)]
    service = make_channel(messaging_service_sid=SERVICE, rate_per_second=0.5)
    assert service.rate_limits(sms()) == [RateLimit("twilio:" + SERVICE, 0.5, burst=1)]
    assert make_channel(rate_per_second=0).rate_limits(sms()) == []


def test_concurrent_sends_arrive_exactly_once(fake, make_channel):
    channel = make_channel()
    messages = [sms(to=f"+1555{i:07d}") for i in range(200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(channel.send, messages))
    assert len({r.provider_message_id for r in results}) == 200
    assert len(fake.messages) == 200
    assert all(fake.bodies_to(m.to) == [m.text] for m in messages)


@pytest.mark.parametrize("senders", [{}, {"from_number": FROM, "messaging_service_sid": SERVICE}])
def test_constructor_needs_exactly_one_sender(senders):
    with pytest.raises(ValueError):
        TwilioSmsChannel("AC" + "0" * 32, "token", **senders)
