"""Twilio webhook signatures and parsing, signed with the SDK's own RequestValidator.compute_signature."""
from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from bots.channel import WebhookRejected
from bots.twilio_webhooks import parse_message, parse_status, signed_url, verify

TOKEN = "auth-token-for-tests"
PUBLIC = "https://cx.example.com"
PARAMS = [("MessageSid", "SM" + "a" * 32), ("From", "+447700900123"), ("To", "+15005550006"),
          ("Body", "9 out of 10"), ("NumMedia", "0")]


def _sign(url: str, pairs: list[tuple[str, str]], token: str = TOKEN) -> dict[str, str]:
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)

    class Multi(dict):
        def getall(self, name):
            return self[name]

    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, Multi(params))}


def test_a_genuine_request_passes():
    url = signed_url(PUBLIC, "/webhooks/twilio/sms")
    verify(TOKEN, url, _sign(url, PARAMS), PARAMS)


def test_parameter_order_does_not_matter():
    url = signed_url(PUBLIC, "/webhooks/twilio/sms")
    verify(TOKEN, url, _sign(url, PARAMS), list(reversed(PARAMS)))


def test_the_url_is_the_public_one_not_what_a_proxy_shows():
    # Twilio called https://cx.example.com; behind the proxy this process sees http://10.0.0.5:8000.
    headers = _sign(signed_url(PUBLIC, "/webhooks/twilio/sms"), PARAMS)
    verify(TOKEN, signed_url(PUBLIC + "/", "/webhooks/twilio/sms"), headers, PARAMS)
    with pytest.raises(WebhookRejected):
        verify(TOKEN, "http://10.0.0.5:8000/webhooks/twilio/sms", headers, PARAMS)


def test_the_default_port_is_accepted_either_way():
    signed_with_port = _sign("https://cx.example.com:443/webhooks/twilio/sms", PARAMS)
    verify(TOKEN, signed_url(PUBLIC, "/webhooks/twilio/sms"), signed_with_port, PARAMS)


def test_the_query_string_is_part_of_the_signature():
    url = signed_url(PUBLIC, "/webhooks/twilio/status", "dispatch=7")
    assert url == PUBLIC + "/webhooks/twilio/status?dispatch=7"
    headers = _sign(url, PARAMS)
    verify(TOKEN, url, headers, PARAMS)
    with pytest.raises(WebhookRejected):
        verify(TOKEN, signed_url(PUBLIC, "/webhooks/twilio/status", "dispatch=8"), headers, PARAMS)


@pytest.mark.parametrize("tamper", [
    lambda pairs: pairs[:-1],  # a parameter dropped
    lambda pairs: pairs + [("Extra", "1")],  # a parameter added
    lambda pairs: [(n, "STOP" if n == "Body" else v) for n, v in pairs],  # a value changed
    lambda pairs: pairs + [("Body", "again")],  # a repeated name
])
def test_any_change_to_the_parameters_is_refused(tamper):
    url = signed_url(PUBLIC, "/webhooks/twilio/sms")
    with pytest.raises(WebhookRejected) as refused:
        verify(TOKEN, url, _sign(url, PARAMS), tamper(list(PARAMS)))
    assert refused.value.status == 403


def test_missing_signature_wrong_token_and_no_configuration_are_refused():
    url = signed_url(PUBLIC, "/webhooks/twilio/sms")
    with pytest.raises(WebhookRejected, match="missing"):
        verify(TOKEN, url, {}, PARAMS)
    with pytest.raises(WebhookRejected, match="does not match"):
        verify(TOKEN, url, _sign(url, PARAMS, token="another-token"), PARAMS)
    with pytest.raises(WebhookRejected, match="not configured"):
        verify(None, url, _sign(url, PARAMS), PARAMS)


def test_a_message_is_read_with_its_sid_and_whether_twilio_confirms_a_keyword():
    message = parse_message(dict(PARAMS))
    assert (message.kind, message.sender, message.text, message.provider_event_id) == (
        "message", "+447700900123", "9 out of 10", "SM" + "a" * 32)
    assert not message.provider_confirms
    assert parse_message({**dict(PARAMS), "Body": " stop "}).provider_confirms  # Twilio's own keyword
    assert not parse_message({**dict(PARAMS), "Body": "İPTAL"}).provider_confirms  # ours alone
    assert parse_message({**dict(PARAMS), "Body": "Arrêt", "OptOutType": "STOP"}).provider_confirms


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
def test_a_message_without_its_sid_or_sender_is_a_bad_request(missing):
    with pytest.raises(WebhookRejected) as refused:
        parse_message({k: v for k, v in PARAMS if k != missing})
    assert refused.value.status == 400


def test_a_status_callback_is_one_event_per_sid_and_status():
    event = parse_status({"MessageSid": "SM1", "MessageStatus": "Undelivered", "ErrorCode": "30006"})
    assert (event.kind, event.dispatch_ref, event.text, event.error_code) == ("status", "SM1", "undelivered", "30006")
    assert event.provider_event_id == "SM1:undelivered" and event.reason == "invalid_address"
    assert parse_status({"MessageSid": "SM1", "MessageStatus": "delivered"}).reason is None
    with pytest.raises(WebhookRejected):
        parse_status({"MessageSid": "SM1"})


@pytest.mark.parametrize(("code", "reason"), [("21610", "opted_out"), ("30006", "invalid_address"),
                                              ("21211", "invalid_address"), ("30007", "undelivered"),
                                              (None, "undelivered"), ("x", "undelivered")])
def test_a_failed_delivery_says_why_in_our_words(code, reason):
    params = {"MessageSid": "SM2", "MessageStatus": "failed", **({"ErrorCode": code} if code else {})}
    assert parse_status(params).reason == reason
