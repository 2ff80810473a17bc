"""Standard Webhooks signing, checked against the reference implementation (the standardwebhooks package)."""
from __future__ import annotations

import base64
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bots.standard_webhooks import (
    SignatureMismatch,
    new_secret,
    sign,
    signed_headers,
    verify,
)

# The test vector published with the reference implementations.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
BODY = '{"alert": {"id": 7, "score": 2, "comment": "Kargo geç geldi"}}'.encode()
MSG_ID = "msg_2Vd8cT3vJq5rX1"


def test_new_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_"):], validate=True)
    assert len(key) == 32  # the spec asks for at least 24
    assert new_secret() != secret


def test_sign_reproduces_the_published_vector():
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    verify(VECTOR_SECRET, {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
                           "webhook-signature": VECTOR_SIGNATURE}, VECTOR_BODY, now=VECTOR_TIMESTAMP)


def test_the_reference_implementation_verifies_our_signature():
    secret, timestamp = new_secret(), int(time.time())  # the reference checks against its own clock (±5 min)
    headers = signed_headers(secret, MSG_ID, timestamp, BODY)
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == MSG_ID and headers["webhook-timestamp"] == str(timestamp)
    assert Webhook(secret).verify(BODY, headers) == {"alert": {"id": 7, "score": 2, "comment": "Kargo geç geldi"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_we_verify_the_reference_implementations_signature():
    secret, timestamp = new_secret(), 1_760_000_000
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    signature = Webhook(secret).sign(MSG_ID, when, BODY.decode())
    assert signature == sign(secret, MSG_ID, timestamp, BODY)
    headers = {"Webhook-Id": MSG_ID, "Webhook-Timestamp": str(timestamp), "Webhook-Signature": signature}
    verify(secret, headers, BODY, now=timestamp + 10)


@pytest.fixture
def signed():
    secret, timestamp = new_secret(), 1_760_000_000
    return secret, timestamp, signed_headers(secret, MSG_ID, timestamp, BODY)


def test_tampered_body_id_or_timestamp_fails(signed):
    secret, timestamp, headers = signed
    with pytest.raises(SignatureMismatch):
        verify(secret, headers, BODY.replace(b"2", b"9"), now=timestamp)
    with pytest.raises(SignatureMismatch):
        verify(secret, {**headers, "webhook-id": "msg_other"}, BODY, now=timestamp)
    with pytest.raises(SignatureMismatch):
        verify(secret, {**headers, "webhook-timestamp": str(timestamp + 1)}, BODY, now=timestamp)
    with pytest.raises(SignatureMismatch):
        verify(new_secret(), headers, BODY, now=timestamp)


def test_timestamps_outside_the_tolerance_fail_both_ways(signed):
    secret, timestamp, headers = signed
    verify(secret, headers, BODY, now=timestamp + 300)
    verify(secret, headers, BODY, now=timestamp - 300)
    with pytest.raises(SignatureMismatch, match="from now"):
        verify(secret, headers, BODY, now=timestamp + 301)
    with pytest.raises(SignatureMismatch, match="from now"):
        verify(secret, headers, BODY, now=timestamp - 301)
    with pytest.raises(SignatureMismatch):
        verify(secret, headers, BODY, now=timestamp + 60, tolerance=30)


def test_any_one_of_several_signatures_may_match(signed):
    secret, timestamp, headers = signed
    good = headers["webhook-signature"]
    rotated = sign(new_secret(), MSG_ID, timestamp, BODY)
    verify(secret, {**headers, "webhook-signature": f"{rotated} v1a,c2lnbmF0dXJl v1,!!notbase64 {good}"},
           BODY, now=timestamp)
    with pytest.raises(SignatureMismatch):
        verify(secret, {**headers, "webhook-signature": f"{rotated} v2,{good[3:]}"}, BODY, now=timestamp)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_fail(signed, missing):
    secret, timestamp, headers = signed
    with pytest.raises(SignatureMismatch):
        verify(secret, {k: v for k, v in headers.items() if k != missing}, BODY, now=timestamp)


def test_a_timestamp_that_is_not_whole_seconds_fails(signed):
    secret, timestamp, headers = signed
    with pytest.raises(SignatureMismatch):
        verify(secret, {**headers, "webhook-timestamp": f"{timestamp}.5"}, BODY, now=timestamp)


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2hvcnQ=", "whsec_not*base64",
                                    "whsec_" + base64.b64encode(bytes(65)).decode()])
def test_malformed_or_short_secrets_are_refused(secret):
    with pytest.raises(ValueError):
        sign(secret, MSG_ID, 1, BODY)


def test_an_unpadded_secret_works_as_in_the_reference():
    secret = "whsec_" + base64.b64encode(bytes(range(25))).decode().rstrip("=")
    assert sign(secret, MSG_ID, 1, BODY) == Webhook(secret).sign(MSG_ID, datetime.fromtimestamp(1, timezone.utc),
                                                                BODY.decode())
