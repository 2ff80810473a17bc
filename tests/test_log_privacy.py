"""No secret and no customer's address in any log line: the masking on its own (hypothesis), then a live server's
whole conversation (email invitations, a mailbox that does not exist, an answer by link, a one-click unsubscribe,
SMS replies through the Twilio webhook, a request that fails) with every log line of the process scanned."""
from __future__ import annotations

import logging
import re

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from surveyd import log_privacy
from surveyd.log_privacy import redact
from tests.test_email_live import invite, live, one_click_target, smtp, survey_by_email  # noqa: F401  (fixtures)

digits = st.text("0123456789", min_size=7, max_size=14)
prose = st.text(st.sampled_from(list("abcdefghij XYZ,.;:()-")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(before=prose, number=digits, after=prose)
def test_an_international_phone_number_is_always_masked(before, number, after):
    phone = f"+{1 + int(number[0]) % 9}{number[1:]}"
    masked = redact(f"{before} {phone} {after}")
    assert phone not in masked and f"…{phone[-2:]}" in masked
    assert redact(masked) == masked


@settings(max_examples=200, deadline=None)
@given(local=st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True),
       domain=st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(com|net|io|com\.tr|ir)", fullmatch=True), around=prose)
def test_an_email_address_is_always_masked(local, domain, around):
    address = f"{local}@{domain}"
    masked = redact(f"{around}<{address}>{around}")
    assert address not in masked and f"{local[0]}…@{domain}" in masked
    assert redact(masked) == masked


@pytest.mark.parametrize("line", [
    "dispatch 42: transient failure, retry in 10.0s", "GET /api/v1/surveys/12 200 3.1ms",
    "2026-12-03 17:23:44,123 INFO surveyd.relay: leased 16 dispatches", "sent the 2026-10 report to 3 recipients",
    "notification 7 (email) failed for good: timed out", "POST /webhooks/twilio 200 4.2ms",
])
def test_ordinary_lines_are_left_alone(line):
    assert redact(line) == line


def test_configured_secrets_are_masked_wherever_they_appear():
    log_privacy.remember_secrets(["Tw1l10-auth-token-for-tests", "short"])
    assert redact("auth=Tw1l10-auth-token-for-tests;") == "auth=…;"
    assert redact("short words stay") == "short words stay"  # under 8 characters it is not treated as secret


def test_a_live_conversation_logs_no_secret_and_no_address(live, smtp, caplog):  # noqa: F811
    outside, served_app = live
    caplog.set_level(logging.DEBUG)
    phone, email, ghost = "+905321234567", "ada@example.com", "ghost@example.com"
    survey_by_email(outside)
    smtp.reject_rcpt[ghost] = f"550 5.1.1 <{ghost}>: Recipient address rejected: no such user"
    outside.settled(outside.event(external_id="ghost", email=ghost)["id"])
    dispatch, message = invite(outside, smtp, phone=phone)
    link = re.search(r"https?://\S+/s/[A-Za-z0-9_.-]+", message.get_body(("plain",)).get_content()).group(0)
    token = link.rsplit("/s/", 1)[1].split("?")[0]
    assert requests.get(link, timeout=10).status_code == 200
    assert requests.post(one_click_target(message), data="List-Unsubscribe=One-Click", timeout=10).status_code == 200
    # A request that fails inside, with a token and a phone number in its path.
    assert requests.get(f"{outside.base}/s/{token}x/{phone}", timeout=10).status_code == 404
    assert requests.get(f"{outside.base}/api/v1/contacts/{email}", headers={
        "Authorization": outside.session.headers["Authorization"]}, timeout=10).status_code == 404
    secret = served_app.config["SURVEYD"].secret_key
    api_key = outside.session.headers["Authorization"].split()[1]
    # Every logger of the process but the fake SMTP server's own (aiosmtpd's mail.log prints the mail it receives).
    lines = [logging.Formatter("%(name)s %(message)s").format(record) for record in caplog.records
             if record.name != "mail.log"]
    assert len(lines) > 10
    text = "\n".join(lines)
    for planted in (phone, phone[1:], email, ghost, token, api_key, secret):
        assert planted not in text, planted


def test_an_unhandled_error_logs_its_route_and_a_masked_traceback(api, monkeypatch, caplog):
    from surveyd.services.design import surveys

    def broken():
        raise RuntimeError("lookup failed for +905321234567 <ada@example.com> with sk_live_leaked_key_123")

    monkeypatch.setattr(surveys, "list_surveys", broken)
    caplog.set_level(logging.INFO)
    assert api.get("/surveys").status_code == 500
    (record,) = [r for r in caplog.records if r.getMessage().startswith("unhandled error")]
    assert record.getMessage() == "unhandled error on GET /api/v1/surveys"
    shown = logging.Formatter().format(record)
    assert "Traceback" in shown and "RuntimeError: lookup failed for …67 <a…@example.com> with sk_…" in shown
    for planted in ("+905321234567", "ada@example.com", "sk_live_leaked_key_123"):
        assert planted not in shown
