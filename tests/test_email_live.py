"""Email seen from outside: a live `serve` sends through the real smtplib to a real SMTP server on
127.0.0.1 (aiosmtpd), and this test reads the traffic and follows the links as a customer, a mail
scanner and a mail client's one-click unsubscribe would."""
from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage

import pytest
import requests
import sqlalchemy as sa

import survey_templates

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import Dispatch, DispatchPurpose, utcnow
from tests.conftest import free_port, make_env
from tests.fakes.smtp_server import FakeSmtp
from tests.live import Outside, outside_client, served
from tests.web.pages import parse

SENDER = "Acme CX <cx@acme.example>"
UNSUBSCRIBE_MAILBOX = "unsubscribe@acme.example"


@pytest.fixture
def smtp():
    with FakeSmtp() as fake:
        yield fake


@pytest.fixture
def live(database_url, tmp_path, smtp, app):
    """`serve` with its relay, email through SMTP to the fake server; yields (Outside client, the served app)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    served_app = create_app(make_env(
        database_url, SURVEYD_PUBLIC_URL=base, SURVEYD_SANDBOX="0",
        SURVEYD_SMTP_HOST=smtp.host, SURVEYD_SMTP_PORT=str(smtp.port), SURVEYD_SMTP_STARTTLS="0",
        SURVEYD_MAIL_FROM=SENDER, SURVEYD_MAIL_UNSUBSCRIBE=UNSUBSCRIBE_MAILBOX,
        SURVEYD_RELAY_POLL_SECONDS="0.1", SURVEYD_RETRY_BASE_SECONDS="0.2", SURVEYD_RETRY_MAX_SECONDS="1",
        SURVEYD_SEND_TIMEOUT_SECONDS="3", SURVEYD_RECONCILE_AFTER_SECONDS="0.3",
    ), instance_path=str(tmp_path))
    with served(served_app, port):
        outside = outside_client(served_app, base)
        yield outside, served_app
        outside.session.close()


def survey_by_email(outside: Outside, kind: str = "nps", email: dict | None = None, **trigger) -> int:
    survey = outside.post("/surveys", {"name": f"{kind} by email", "kind": kind, "locales": ["en", "tr", "fa"],
                                       **({"email": email} if email else {})})
    outside.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["email"],
                               **trigger})
    return survey["id"]


def invite(outside: Outside, smtp: FakeSmtp, external_id: str = "ada", **contact) -> tuple[dict, EmailMessage]:
    """Fire an event and wait for its email; (the dispatch as the API shows it, the email as received)."""
    before = len(smtp.messages)
    planned = outside.event(external_id=external_id, **{"email": f"{external_id}@example.com", **contact})
    dispatch = outside.settled(planned["id"])
    assert dispatch["status"] == "sent", dispatch
    smtp.wait_for(before + 1)
    return dispatch, smtp.messages[before].message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of a multipart/alternative email."""
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    return text.get_content(), html.get_content()


def links(html: str) -> list[str]:
    return [a.attrs["href"] for a in parse(html).all("a") if "href" in a.attrs]


def one_click_target(message: EmailMessage) -> str:
    (https,) = re.findall(r"<(https?://[^>]+)>", message["List-Unsubscribe"])
    return https


@pytest.mark.parametrize(("kind", "locale", "points", "direction"), [
    ("nps", "en", range(0, 11), "ltr"), ("csat", "tr", range(1, 6), "ltr"), ("ces", "fa", range(1, 8), "rtl")])
def test_the_invitation_is_multipart_with_a_score_link_per_point_and_the_unsubscribe_headers(
        live, smtp, kind, locale, points, direction):
    outside, _ = live
    survey_by_email(outside, kind)
    dispatch, message = invite(outside, smtp, name="Ayşe Yılmaz", locale=locale)
    received = smtp.messages[0]
    assert received.rcpt_tos == ["ada@example.com"] and received.mail_from == "cx@acme.example"
    assert message["From"] == SENDER and message["To"] == "ada@example.com"
    assert message["Content-Language"] == locale
    assert message["Message-ID"] == dispatch["provider_message_id"]
    assert message["Message-ID"].endswith("@acme.example>")
    text, html = parts(message)

    score_links = [href for href in links(html) if "?score=" in href]
    survey_url = score_links[0].split("?")[0]
    assert score_links == [f"{survey_url}?score={n}" for n in points]
    assert all(f"{survey_url}?score={n}" in text for n in points)
    assert f'<html lang="{locale}" dir="{direction}">' in html
    assert "Ayşe Yılmaz" in text and "Ayşe Yılmaz" in html

    target = one_click_target(message)
    assert message["List-Unsubscribe"] == (
        f"<{target}>, <mailto:{UNSUBSCRIBE_MAILBOX}?subject=unsubscribe%20{target.rsplit('/', 1)[-1]}>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert target in links(html) and target in text  # a visible way out too


def test_gets_of_every_link_record_nothing_and_answering_from_one_records_one_response(live, smtp):
    outside, _ = live
    survey_id = survey_by_email(outside)
    dispatch, message = invite(outside, smtp)
    text, html = parts(message)
    every_link = links(html)
    assert len(every_link) == 13  # eleven scores, the survey link, the unsubscribe page
    for _ in range(2):  # a link scanner opens each, sometimes twice
        for href in every_link:
            assert requests.get(href, timeout=10).status_code == 200
    assert outside.get(f"/responses?survey_id={survey_id}")["items"] == []
    assert outside.get(f"/dispatches/{dispatch['id']}")["status"] == "sent"
    assert outside.get("/contacts/ada")["consent"]["email"]["state"] == "opted_in"

    nine = next(href for href in every_link if href.endswith("?score=9"))
    page = parse(requests.get(nine, timeout=10).text)
    assert page.checked() == ["9"]  # the page opens with the clicked score chosen
    answer = requests.post(nine.split("?")[0], data={"score": "9"}, timeout=10)
    assert answer.status_code == 200
    again = requests.post(nine.split("?")[0], data={"score": "2"}, timeout=10)
    assert again.status_code == 200
    (response,) = outside.get(f"/responses?survey_id={survey_id}")["items"]
    assert (response["score"], response["channel"]) == (9, "email")
    assert outside.get(f"/dispatches/{dispatch['id']}")["status"] == "answered"


def test_the_one_click_post_stops_later_emails_to_that_contact(live, smtp):
    outside, _ = live
    survey_by_email(outside)
    _, message = invite(outside, smtp)
    target = one_click_target(message)
    assert requests.get(target, timeout=10).status_code == 200  # a GET only asks
    assert outside.get("/contacts/ada")["consent"]["email"]["state"] == "opted_in"

    # What Gmail or Apple Mail send (RFC 8058): a POST with this one body, no cookies, no page.
    one_click = requests.post(target, data="List-Unsubscribe=One-Click", timeout=10,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200
    consent = outside.get("/contacts/ada")["consent"]["email"]
    assert (consent["state"], consent["source"]) == ("opted_out", "list_unsubscribe")

    later = outside.event(external_id="ada")
    assert (later["status"], later["reason"]) == ("suppressed", "opted_out")
    forged = target[:-3] + ("AAA" if not target.endswith("AAA") else "BBB")
    assert requests.post(forged, data="List-Unsubscribe=One-Click", timeout=10).status_code == 404
    assert len(smtp.messages) == 1


def test_a_mailbox_that_does_not_exist_is_not_emailed_again(live, smtp):
    outside, _ = live
    survey_by_email(outside)
    smtp.reject_rcpt["ghost@example.com"] = "550 5.1.1 <ghost@example.com>: Recipient address rejected: no such user"
    planned = outside.event(external_id="ghost", email="ghost@example.com")
    dispatch = outside.settled(planned["id"])
    assert (dispatch["status"], dispatch["reason"]) == ("failed", "undeliverable")
    assert outside.get("/contacts/ghost")["consent"]["email"]["state"] == "undeliverable"
    later = outside.event(external_id="ghost")
    assert (later["status"], later["reason"]) == ("suppressed", "undeliverable")
    assert smtp.messages == []


def test_a_server_that_says_try_later_gets_the_email_once_after_a_retry(live, smtp):
    outside, _ = live
    survey_by_email(outside)
    smtp.data_reply_next.append("451 4.3.0 Temporary local problem, try later")
    dispatch, _ = invite(outside, smtp)
    steps = [(step["status"], step["reason"]) for step in outside.get(f"/dispatches/{dispatch['id']}")["history"]]
    assert ("scheduled", "retrying") in steps
    assert len(smtp.messages) == 1


def test_a_server_that_hangs_up_after_taking_the_message_gets_one_flagged_resend_with_the_same_message_id(live, smtp):
    outside, _ = live
    survey_by_email(outside)
    smtp.hang_up_after_data_next = 1  # it has the whole message, then the line drops before "250 OK"
    planned = outside.event(external_id="ada", email="ada@example.com")
    dispatch = outside.settled(planned["id"])
    assert dispatch["status"] == "sent" and dispatch["possible_duplicate"] is True
    steps = [(step["status"], step["reason"]) for step in dispatch["history"]]
    assert ("unknown", "ambiguous") in steps and ("sending", "resent_unconfirmed") in steps
    # SMTP cannot be asked what it has, so the resend goes out flagged; it carries the same Message-ID,
    # which lets mail systems drop the second copy.
    smtp.wait_for(2)
    assert [received.message["Message-ID"] for received in smtp.messages] == [dispatch["provider_message_id"]] * 2


def test_the_reminder_is_its_own_email_pointing_at_the_same_survey(live, smtp):
    outside, served_app = live
    survey_by_email(outside, reminder={"after_seconds": 3600})
    dispatch, invitation = invite(outside, smtp)
    with served_app.app_context():  # an hour passes
        db.session.execute(sa.update(Dispatch).where(Dispatch.purpose == DispatchPurpose.REMINDER)
                           .values(due_at=utcnow()))
        db.session.commit()
        db.session.remove()
    smtp.wait_for(2)
    reminder = smtp.messages[1].message
    assert reminder["Subject"].startswith("Reminder:") and not invitation["Subject"].startswith("Reminder:")
    assert reminder["Message-ID"] != invitation["Message-ID"]
    assert reminder["List-Unsubscribe"] == invitation["List-Unsubscribe"]
    (_, invitation_html), (reminder_text, reminder_html) = parts(invitation), parts(reminder)
    assert [h for h in links(reminder_html) if "/s/" in h] == [h for h in links(invitation_html) if "/s/" in h]
    assert "We would still love to hear how it went." in reminder_text


def test_the_survey_words_its_email_with_the_events_attributes_and_falls_back_when_one_is_missing(live, smtp):
    outside, _ = live
    survey_by_email(outside, email={
        "subject": {"en": "How was order {order_id}?", "tr": "{order_id} numaralı siparişiniz nasıldı?"},
        "intro": {"en": "Thanks for shopping at {store}, {name}."}})
    before = 0

    def sent(external_id: str, attributes: dict, **contact) -> EmailMessage:
        nonlocal before
        planned = outside.post("/events", {"touchpoint": "order.delivered", "attributes": attributes, "contact": {
            "external_id": external_id, "email": f"{external_id}@example.com", **contact}}, status=202)["dispatches"][0]
        assert outside.settled(planned["id"])["status"] == "sent"
        before += 1
        return smtp.wait_for(before)[-1].message

    english = sent("ada", {"order_id": "A-1042", "store": "Kadıköy"}, name="Ada")
    assert english["Subject"] == "How was order A-1042?"
    text, html = parts(english)
    assert "Thanks for shopping at Kadıköy, Ada." in text and "Thanks for shopping at Kadıköy, Ada." in html
    assert "Thank you for choosing us." not in text

    turkish = sent("ayse", {"order_id": "B-7"}, name="Ayşe", locale="tr")
    assert turkish["Subject"] == "B-7 numaralı siparişiniz nasıldı?"
    assert survey_templates.translate("tr", "messages.email_intro") in parts(turkish)[0]  # no Turkish intro given

    no_store = sent("bob", {"order_id": "C-9"})  # neither a store nor a name: that sentence is left out
    assert no_store["Subject"] == "How was order C-9?"
    assert "Thank you for choosing us." in parts(no_store)[0] and "shopping at" not in parts(no_store)[0]
    no_order = sent("cem", {"store": "Moda", "order_id": {"nested": True}}, name="Cem")
    assert no_order["Subject"] == survey_templates.translate("en", "messages.email_subject")


def test_the_email_arrives_byte_clean(live, smtp):
    outside, _ = live
    survey_by_email(outside)
    invite(outside, smtp, locale="fa")
    raw = smtp.messages[0].data
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert raw.isascii()  # encoded words and transfer encodings: no server needs SMTPUTF8 or 8BITMIME for it
    reparsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert reparsed["Subject"] == survey_templates.translate("fa", "messages.email_subject")
    text, html = parts(reparsed)
    assert survey_templates.translate("fa", "messages.email_intro") in text and 'dir="rtl"' in html
