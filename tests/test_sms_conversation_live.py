"""Two-way SMS seen from outside: this test acts as Twilio against a live `serve` with its relay.

Invitations go out through the real twilio SDK to the local fake Twilio; the customer's replies and
the status callbacks come back as form posts signed with the SDK's RequestValidator.compute_signature,
exactly as Twilio signs them.
"""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from surveyd.extensions import db
from surveyd.models import Dispatch, InboundMessage, SandboxMessage
from tests.live import quiesced, wait_until
from tests.test_dispatch_live import _phone, _trigger, engine, twilio  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("engine")


class Twilio:
    """Posts to surveyd's webhooks as Twilio does: form-encoded and signed for the public URL."""

    def __init__(self, base: str, token: str):
        self.base, self.validator = base, RequestValidator(token)

    def post(self, path_and_query: str, params: dict[str, str], signature: str | None = None) -> requests.Response:
        url = self.base + path_and_query
        headers = {"X-Twilio-Signature": signature or self.validator.compute_signature(url, params)}
        return requests.post(url, data=params, headers=headers, timeout=10)

    def text(self, sender: str, body: str, sid: str | None = None, **extra: str) -> tuple[requests.Response, list[str]]:
        """A customer's SMS to our number; the answer and the reply texts in its TwiML."""
        params = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32, "From": sender,
                  "To": "+15005550006", "Body": body, "NumMedia": "0", "NumSegments": "1", **extra}
        response = self.post("/webhooks/twilio/sms", params)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/xml")
        return response, [m.text for m in ET.fromstring(response.text).iter("Message")]

    def status(self, callback_url: str, sid: str, status: str, error_code: str | None = None) -> requests.Response:
        """A status callback to the URL the message was created with."""
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32, "To": "+447700900000"}
        if error_code:
            params["ErrorCode"] = error_code
        path = callback_url[len(self.base):]
        return self.post(path, params)


@pytest.fixture
def phone_twilio(engine, twilio):  # noqa: F811
    return Twilio(engine.base, twilio.auth_token)


def _invited(engine, twilio, locale: str = "en", **contact) -> tuple[str, dict, dict]:  # noqa: F811
    """Fire an event for a new phone and wait until its SMS reached Twilio; (phone, dispatch, fake message)."""
    phone = _phone()
    planned = engine.event(phone, external_id=f"cust-{phone}", locale=locale, **contact)
    dispatch = engine.settled(planned["id"])
    assert dispatch["status"] == "sent", dispatch
    (message,) = [m for m in twilio.messages if m["to"] == phone]
    return phone, dispatch, message


def _responses(engine) -> list[dict]:
    return engine.get(f"/responses?survey_id={engine.survey_id}")["items"]


def _inbound_rows(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(InboundMessage.id)))
        db.session.remove()
        return count


def test_a_whole_conversation_by_sms(engine, twilio, phone_twilio):  # noqa: F811
    _trigger(engine)
    phone, dispatch, message = _invited(engine, twilio)
    assert "Reply 0-10" in message["body"] and "/s/" in message["body"]
    assert message["status_callback"].endswith(f"/webhooks/twilio/status?dispatch={dispatch['id']}")

    _, replies = phone_twilio.text(phone, "I'd say 9!")
    assert replies == ["Great to hear! What did you like most?"]
    _, replies = phone_twilio.text(phone, "Fast and friendly delivery")
    assert replies == ["Thank you! Your answer is saved."]

    (response,) = _responses(engine)
    assert (response["score"], response["channel"], response["completed"]) == (9, "sms", True)
    assert [a["value"] for a in response["answers"]] == [9, "Fast and friendly delivery"]
    assert engine.get(f"/dispatches/{dispatch['id']}")["status"] == "answered"
    # Another text after the survey is complete changes nothing.
    _, replies = phone_twilio.text(phone, "10")
    assert replies == ["You have already answered. Thank you!"]
    assert _responses(engine)[0]["score"] == 9


def test_a_redelivered_webhook_changes_nothing(engine, twilio, phone_twilio, app):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    sid = "SM" + uuid.uuid4().hex
    _, first = phone_twilio.text(phone, "3", sid=sid)
    assert first == ["We're sorry to hear that. What should we have done better?"]
    _, again = phone_twilio.text(phone, "3", sid=sid)
    assert again == []  # the same MessageSid: acted on once, answered once
    assert _inbound_rows(app) == 1
    (response,) = _responses(engine)
    assert (response["score"], response["completed"]) == (3, False)
    alerts = engine.get("/alerts?status=open")["items"]
    assert len(alerts) == 1  # a detractor's SMS raised one alert, the redelivery none


def test_a_forged_or_unsigned_webhook_is_refused_and_stores_nothing(engine, twilio, phone_twilio, app):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "From": phone, "To": "+15005550006", "Body": "0"}
    forged = RequestValidator("not-the-auth-token").compute_signature(engine.base + "/webhooks/twilio/sms", params)
    assert phone_twilio.post("/webhooks/twilio/sms", params, signature=forged).status_code == 403
    assert requests.post(engine.base + "/webhooks/twilio/sms", data=params, timeout=10).status_code == 403
    # Signed for other parameters than the ones sent.
    signature = phone_twilio.validator.compute_signature(engine.base + "/webhooks/twilio/sms", params)
    tampered = {**params, "Body": "10"}
    assert phone_twilio.post("/webhooks/twilio/sms", tampered, signature=signature).status_code == 403
    # Malformed: not a form at all.
    junk = requests.post(engine.base + "/webhooks/twilio/sms", data=b"{not json", timeout=10,
                         headers={"Content-Type": "application/json", "X-Twilio-Signature": forged})
    assert junk.status_code == 403
    assert _inbound_rows(app) == 0 and _responses(engine) == []


def test_an_unclear_reply_gets_one_reprompt_then_silence(engine, twilio, phone_twilio):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    _, replies = phone_twilio.text(phone, "7 or 8")
    assert replies == ["Sorry, we didn't get that. Please reply with a number from 0 to 10."]
    _, replies = phone_twilio.text(phone, "hmm, hard to say")
    assert replies == []
    assert _responses(engine) == []
    _, replies = phone_twilio.text(phone, "8 out of 10")
    assert replies == ["Thanks! What would it take for us to earn a 10?"]
    assert _responses(engine)[0]["score"] == 8


@pytest.mark.parametrize(("locale", "reply", "score", "follow_up"), [
    ("tr", "dokuz", 9, "Bunu duymak harika! En çok neyi beğendiniz?"),
    ("fa", "۹", 9, None),
    ("fa", "٢", 2, None),
    ("en", "9️⃣", 9, "Great to hear! What did you like most?"),
])
def test_replies_in_each_language_become_the_right_score(engine, twilio, phone_twilio, locale, reply, score, follow_up):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio, locale=locale)
    _, replies = phone_twilio.text(phone, reply)
    assert len(replies) == 1
    if follow_up:
        assert replies == [follow_up]
    (response,) = _responses(engine)
    assert (response["score"], response["locale"]) == (score, locale)


def test_stop_stops_every_later_sms_and_start_opts_back_in(engine, twilio, phone_twilio):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    _, replies = phone_twilio.text(phone, " stop ")
    assert replies == []  # Twilio answers its own STOP keyword: one confirmation, not two
    contact = engine.get(f"/contacts/cust-{phone}")
    assert contact["consent"]["sms"]["state"] == "opted_out"
    later = engine.event(phone, external_id=f"cust-{phone}")
    assert (later["status"], later["reason"]) == ("suppressed", "opted_out")

    _, replies = phone_twilio.text(phone, "START")
    assert replies == []
    assert engine.get(f"/contacts/cust-{phone}")["consent"]["sms"]["state"] == "opted_in"
    # A Turkish keyword Twilio does not know: the confirmation is ours.
    _, replies = phone_twilio.text(phone, "İPTAL")
    assert replies == ["You will get no more survey texts. Reply START to opt back in."]
    assert engine.get(f"/contacts/cust-{phone}")["consent"]["sms"]["state"] == "opted_out"


def test_a_reply_after_expiry_gets_a_short_message_not_a_response(engine, twilio, phone_twilio, app):  # noqa: F811
    _trigger(engine, expire_after_seconds=60)
    phone, dispatch, _ = _invited(engine, twilio)
    with app.app_context():  # a minute is the shortest lifetime a trigger takes: let it pass at once
        db.session.execute(sa.update(Dispatch).where(Dispatch.id == dispatch["id"])
                           .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()
    _, replies = phone_twilio.text(phone, "10")
    assert replies == ["Sorry, this survey has closed. Thank you for your time."]
    assert _responses(engine) == []


def test_status_callbacks_move_the_dispatch_forward_only_once(engine, twilio, phone_twilio, app):  # noqa: F811
    _trigger(engine)
    _, dispatch, message = _invited(engine, twilio)
    callback = message["status_callback"]
    for status in ("sent", "delivered", "delivered", "sent"):
        assert phone_twilio.status(callback, message["sid"], status).status_code == 200
    after = engine.get(f"/dispatches/{dispatch['id']}")
    assert after["status"] == "delivered"
    assert [s["status"] for s in after["history"]].count("delivered") == 1
    assert _inbound_rows(app) == 2  # sent and delivered once each; the repeats were not stored again
    forged = phone_twilio.post(callback[len(engine.base):], {"MessageSid": message["sid"], "MessageStatus": "failed"},
                               signature="bm90IGEgc2lnbmF0dXJl")
    assert forged.status_code == 403
    assert engine.get(f"/dispatches/{dispatch['id']}")["status"] == "delivered"


def test_an_undelivered_sms_falls_back_to_the_next_channel(engine, twilio, phone_twilio):  # noqa: F811
    _trigger(engine, channels=["sms", "email"])
    _, dispatch, message = _invited(engine, twilio, email="ada@example.com")
    response = phone_twilio.status(message["status_callback"], message["sid"], "undelivered", error_code="30006")
    assert response.status_code == 200
    settled = engine.settled(dispatch["id"])
    assert (settled["channel"], settled["status"]) == ("email", "delivered")
    failed = [s for s in settled["history"] if s["status"] == "failed"]
    assert [(s["channel"], s["reason"]) for s in failed] == [("sms", "invalid_address")]


def test_simultaneous_deliveries_of_one_message_act_once(engine, twilio, phone_twilio, app):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    sid = "SM" + uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: phone_twilio.text(phone, "2", sid=sid)[1], range(10)))
    assert sorted(answers, key=len) == [[]] * 9 + [["We're sorry to hear that. What should we have done better?"]]
    assert _inbound_rows(app) == 1
    (response,) = _responses(engine)
    assert response["score"] == 2
    assert len(engine.get("/alerts?status=open")["items"]) == 1


def test_a_text_from_a_number_never_asked_gets_no_reply_and_no_response(engine, twilio, phone_twilio, app):  # noqa: F811
    _trigger(engine)
    _, replies = phone_twilio.text("+447700900999", "10")
    assert replies == []
    assert _responses(engine) == [] and _inbound_rows(app) == 1  # kept raw, acted on as "unknown"
    with app.app_context():
        assert db.session.scalar(sa.select(InboundMessage.outcome)) == "unknown"
        db.session.remove()


def test_a_status_callback_for_a_message_we_never_sent_changes_nothing(engine, twilio, phone_twilio):  # noqa: F811
    _trigger(engine)
    _, dispatch, message = _invited(engine, twilio)
    response = phone_twilio.status(engine.base + "/webhooks/twilio/status", "SM" + "f" * 32, "failed", "30006")
    assert response.status_code == 200
    # Someone else's dispatch id in the URL with a MessageSid that is not its own: ignored too.
    other = phone_twilio.status(engine.base + f"/webhooks/twilio/status?dispatch={dispatch['id']}", "SM" + "e" * 32,
                                "failed", "30006")
    assert other.status_code == 200
    assert engine.get(f"/dispatches/{dispatch['id']}")["status"] == "sent"
    bad = phone_twilio.post("/webhooks/twilio/status", {"MessageSid": message["sid"]})  # signed, no MessageStatus
    assert bad.status_code == 400


def test_a_chat_asks_only_free_text_follow_ups(engine, twilio, phone_twilio):  # noqa: F811
    def texts(text):
        return {"en": text}

    questions = [
        {"id": "score", "type": "scale", "text": texts("How satisfied?"), "low_label": texts("Bad"), "high_label": texts("Good")},
        {"id": "what_wrong", "type": "choice", "text": texts("What went wrong?"), "bands": ["negative"],
         "options": [{"id": "late", "label": texts("Late")}, {"id": "damaged", "label": texts("Damaged")}]},
        {"id": "tell_more", "type": "text", "text": texts("Tell us more"), "bands": ["negative"]},
        {"id": "which", "type": "choice", "text": texts("Which part?"), "bands": ["positive"],
         "options": [{"id": "price", "label": texts("Price")}, {"id": "speed", "label": texts("Speed")}]},
    ]
    survey = engine.post("/surveys", {"name": "Custom CSAT", "kind": "csat", "locales": ["en"], "questions": questions})
    engine.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["sms"]})
    unhappy, _, _ = _invited(engine, twilio)
    assert phone_twilio.text(unhappy, "2")[1] == ["Tell us more"]  # the choice needs the web page's buttons
    assert phone_twilio.text(unhappy, "Late again")[1] == ["Thank you! Your answer is saved."]
    happy, _, _ = _invited(engine, twilio)
    assert phone_twilio.text(happy, "5")[1] == ["Thank you! Your answer is saved."]  # only a choice follows
    assert phone_twilio.text(happy, "Lovely")[1] == ["You have already answered. Thank you!"]
    answers = {r["score"]: ([a["value"] for a in r["answers"]], r["completed"])
               for r in engine.get(f"/responses?survey_id={survey['id']}")["items"]}
    assert answers == {2: ([2, "Late again"], True), 5: ([5], False)}  # partial: the page can still take the choice


def test_an_agent_answers_a_detractor_by_sms_and_the_reply_lands_in_the_alert(engine, twilio, phone_twilio):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    phone_twilio.text(phone, "3")
    phone_twilio.text(phone, "The box was crushed")
    (alert,) = engine.get("/alerts")["items"]
    queued = engine.post(f"/alerts/{alert['id']}/messages", {"text": "Sorry Ada, a new one is on its way."},
                         status=202)
    assert queued["channel"] == "sms" and queued["status"] in ("scheduled", "sending", "sent")  # already on its way
    wait_until(lambda: twilio.bodies_to(phone)[-1] == "Sorry Ada, a new one is on its way.",
               what="the agent's SMS reaching Twilio")
    assert len(twilio.bodies_to(phone)) == 2  # the invitation and the agent's words, nothing else

    _, replies = phone_twilio.text(phone, "Thanks, that is kind")
    assert replies == []  # no "you have already answered": an agent is waiting for this
    detail = engine.get(f"/alerts/{alert['id']}")
    assert detail["status"] == "contacted"
    steps = [(a["action"], a["actor"].split(":")[0], a["detail"].get("text")) for a in detail["activity"]]
    assert ("replied", "api_key", "Sorry Ada, a new one is on its way.") in steps
    assert ("customer_replied", "customer", "Thanks, that is kind") in steps
    assert [a for a, _, _ in steps].index("replied") < [a for a, _, _ in steps].index("customer_replied")
    wait_until(lambda: any(d["event"] == "reply" and d["status"] == "sent"  # recorded just after Twilio took it
                           for d in engine.get(f"/alerts/{alert['id']}")["deliveries"]), what="the reply marked sent")
    # A keyword still works as a keyword, not as a message to the agent.
    phone_twilio.text(phone, "STOP")
    actions = [a["action"] for a in engine.get(f"/alerts/{alert['id']}")["activity"]]
    assert actions.count("customer_replied") == 1
    assert engine.get(f"/contacts/cust-{phone}")["consent"]["sms"]["state"] == "opted_out"


def test_an_agent_cannot_message_a_customer_who_opted_out(engine, twilio, phone_twilio):  # noqa: F811
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    phone_twilio.text(phone, "1")
    phone_twilio.text(phone, "STOP")
    (alert,) = engine.get("/alerts")["items"]
    refused = engine.session.post(engine.base + f"/api/v1/alerts/{alert['id']}/messages",
                                  json={"text": "Can we call you?"}, timeout=10)
    assert refused.status_code == 409 and "opted out" in refused.json()["error"]["message"]
    bad = [engine.session.post(engine.base + f"/api/v1/alerts/{alert['id']}/messages", json=body, timeout=10)
           for body in ({}, {"text": ""}, {"text": "x" * 1601})]
    assert [r.status_code for r in bad] == [422, 422, 422]
    assert engine.session.post(engine.base + "/api/v1/alerts/999999/messages", json={"text": "hi"},
                               timeout=10).status_code == 404
    assert engine.session.post(engine.base + f"/api/v1/alerts/{alert['id']}/messages", data="{nope",
                               headers={"Content-Type": "application/json"}, timeout=10).status_code == 400
    detail = engine.get(f"/alerts/{alert['id']}")
    assert detail["status"] == "open" and "replied" not in [a["action"] for a in detail["activity"]]
    assert len(twilio.bodies_to(phone)) == 1


def test_a_detractor_reply_delivered_ten_times_at_once_tells_the_agents_once(engine, twilio, phone_twilio, app):  # noqa: F811
    engine.session.patch(engine.base + f"/api/v1/surveys/{engine.survey_id}", timeout=10, json={
        "alert": {"notify": [{"channel": "email", "to": "agents@example.com"}]}}).raise_for_status()
    _trigger(engine)
    phone, _, _ = _invited(engine, twilio)
    sid = "SM" + uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda _: phone_twilio.text(phone, "1", sid=sid), range(10)))
    quiesced(engine.relay)
    (alert,) = engine.get("/alerts")["items"]
    (delivery,) = engine.get(f"/alerts/{alert['id']}")["deliveries"]
    assert (delivery["channel"], delivery["status"], delivery["attempts"]) == ("email", "sent", 1)
    with app.app_context():
        emails = db.session.scalars(sa.select(SandboxMessage).where(SandboxMessage.recipient == "agents@example.com"))
        assert len(list(emails)) == 1
        db.session.remove()
