"""Stored webhook deliveries that nothing acted on are acted on later, once, and given up loudly when hopeless."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bots import twilio_webhooks
from bots.telegram_bot import parse_update
from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Dispatch,
    DispatchStatus,
    InboundMessage,
    Response,
    SandboxMessage,
    utcnow,
)
from surveyd.services import tokens
from surveyd.services.answers import inbound
from surveyd.services.answers.inbound_recovery import GRACE, MAX_ATTEMPTS, recover
from surveyd.services.dispatch.sending import send_due
from surveyd.services.runtime import settings
from tests import factories
from tests.fakes.telegram_api import callback_update
from tests.live import relay_pass

PHONE = "+447700900123"
LATER = timedelta(minutes=2)


def sms_survey(channels=("sms",)) -> int:
    survey = factories.survey()
    factories.trigger(survey.id, channels=list(channels))
    factories.contact(telegram_chat_id="4242")
    (dispatch,) = factories.event()["dispatches"]
    assert send_due() == 1
    return dispatch["id"]


def stored_sms(text: str, sid: str = "SM0001") -> int:
    """An inbound SMS kept by the webhook, which then failed before acting on it."""
    params = {"From": PHONE, "Body": text, "MessageSid": sid}
    return inbound.store_once(twilio_webhooks.parse_message(params), params)


def row(inbound_id: int) -> InboundMessage:
    return db.session.get(InboundMessage, inbound_id, populate_existing=True)


def replies_to(address: str) -> list[str]:
    return list(db.session.scalars(sa.select(SandboxMessage.text).where(
        SandboxMessage.recipient == address, SandboxMessage.extra["direction"].as_string() == "reply")
        .order_by(SandboxMessage.id)))


def test_an_sms_reply_nobody_acted_on_is_answered_later_and_only_once(ctx):
    dispatch_id = sms_survey()
    inbound_id = stored_sms("9")
    assert recover(utcnow()) == 0  # within the grace period the webhook may still be at it
    assert row(inbound_id).processed_at is None

    assert recover(utcnow() + LATER) == 1
    stored = row(inbound_id)
    assert stored.processed_at is not None and stored.attempts == 1 and stored.outcome == "score"
    (response,) = db.session.scalars(sa.select(Response)).all()
    assert (response.score, response.dispatch_id) == (9, dispatch_id)
    assert replies_to(PHONE) == ["Great to hear! What did you like most?"]  # the follow-up, sent as its own SMS
    assert recover(utcnow() + LATER) == 0  # acted on: never again
    assert len(replies_to(PHONE)) == 1


def test_a_delivery_older_than_a_day_is_left_for_staff_to_look_at(ctx):
    sms_survey()
    inbound_id = stored_sms("9")
    assert recover(utcnow() + timedelta(hours=25)) == 0
    assert row(inbound_id).processed_at is None and row(inbound_id).attempts == 0


def test_a_redelivery_that_acted_first_leaves_nothing_for_recovery(ctx):
    sms_survey()
    inbound_id = stored_sms("8")
    params = {"From": PHONE, "Body": "8", "MessageSid": "SM0001"}
    assert inbound.store_once(twilio_webhooks.parse_message(params), params) == inbound_id  # not acted on yet
    from surveyd.services.answers.conversations import take_message

    take_message(inbound_id, twilio_webhooks.parse_message(params))
    assert recover(utcnow() + LATER) == 0
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 1


def test_a_status_callback_nobody_acted_on_moves_the_dispatch_later(ctx):
    dispatch_id = sms_survey()
    dispatch = db.session.get(Dispatch, dispatch_id)
    dispatch.status, dispatch.provider_message_id = DispatchStatus.SENT, "SMabc"
    db.session.commit()
    params = {"MessageSid": "SMabc", "MessageStatus": "delivered", "To": PHONE}
    inbound_id = inbound.store_once(twilio_webhooks.parse_status(params), {**params, "dispatch": dispatch_id})
    assert recover(utcnow() + LATER) == 1
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch_id).status == DispatchStatus.DELIVERED
    assert row(inbound_id).processed_at is not None


def test_a_telegram_tap_the_long_poll_skipped_is_recorded_later(ctx):
    dispatch_id = sms_survey(channels=("telegram",))
    message = db.session.scalar(sa.select(SandboxMessage).where(SandboxMessage.channel == Channel.TELEGRAM))
    data = tokens.sign_choice(dispatch_id, 3, "4242", settings().secret_key)
    update = callback_update(4242, message.id, data)
    inbound_id = inbound.store_once(parse_update(update), update)
    assert recover(utcnow() + LATER) == 1
    (response,) = db.session.scalars(sa.select(Response)).all()
    assert (response.score, response.channel) == (3, Channel.TELEGRAM)
    assert row(inbound_id).outcome is not None
    assert replies_to("4242")  # the follow-up question reached the sandbox chat


def test_a_hopeless_delivery_is_tried_a_few_times_then_given_up_loudly(ctx, caplog):
    sms_survey()
    params = {"Body": "9", "MessageSid": "SMbroken"}  # no From: the stored payload cannot be acted on
    row_id = InboundMessage(channel=Channel.SMS, kind="message", provider_event_id="SMbroken", payload=params,
                            received_at=utcnow() - GRACE * 2)
    db.session.add(row_id)
    db.session.commit()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert recover(utcnow()) == 0
        assert row(row_id.id).attempts == attempt
    assert recover(utcnow()) == 0 and row(row_id.id).attempts == MAX_ATTEMPTS  # no longer tried
    assert row(row_id.id).processed_at is None and "From" in row(row_id.id).last_error
    assert any(record.levelname == "ERROR" and "given up after 5 tries" in record.getMessage()
               for record in caplog.records)
    assert db.session.scalar(sa.select(sa.func.count(Response.id))) == 0


def test_the_relay_runs_the_recovery(ctx, app):
    sms_survey()
    inbound_id = stored_sms("10")
    db.session.execute(sa.update(InboundMessage).values(received_at=utcnow() - LATER))
    db.session.commit()
    relay_pass(app)
    assert row(inbound_id).processed_at is not None
    assert db.session.scalar(sa.select(Response.score)) == 10


@pytest.mark.parametrize(("text", "confirmations"), [("STOP", 0), ("İPTAL", 1)])
def test_a_late_opt_out_is_honoured_and_confirmed_once(ctx, text, confirmations):
    from surveyd.models import Contact

    sms_survey()
    stored_sms(text)
    recover(utcnow() + LATER)
    assert db.session.scalar(sa.select(Contact)).opted_out(Channel.SMS)
    # Twilio answers its own English keywords; surveyd confirms the others.
    assert len(replies_to(PHONE)) == confirmations
