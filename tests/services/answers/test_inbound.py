"""Raw deliveries: kept with one INSERT, claimed with one UPDATE, their outcome kept with one UPDATE; no flushes."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from bots import twilio_webhooks
from surveyd.extensions import db
from surveyd.models import Channel, Contact, InboundMessage, Response, utcnow
from surveyd.services.answers import inbound
from surveyd.services.answers.conversations import take_message
from surveyd.services.dispatch.sending import send_due
from tests import factories, sql_trace

PHONE = "+447700900123"


@pytest.fixture
def writes(app):
    """What the test's session writes: the SQL statements' first two words, and the flushes."""
    with app.app_context():
        engine = db.engine
    with sql_trace.statements(engine, words=2) as statements, sql_trace.flushes() as flushes:
        yield {"statements": statements, "flushes": flushes}


def _sms(text: str, sid: str = "SM0001"):
    params = {"From": PHONE, "Body": text, "MessageSid": sid}
    return twilio_webhooks.parse_message(params), params


def _sms_survey() -> int:
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms"])
    factories.contact()
    (dispatch,) = factories.event()["dispatches"]
    assert send_due() == 1
    return dispatch["id"]


def _reset(writes) -> None:
    writes["statements"].clear()
    writes["flushes"].clear()


def test_a_delivery_is_kept_once_with_one_insert_and_its_id_needs_no_read(ctx, writes):
    message, params = _sms("9")
    first = inbound.store_once(message, params)
    assert writes["flushes"] == []
    assert [s for s in writes["statements"] if not s.startswith("BEGIN")] == ["INSERT INTO"]
    assert inbound.store_once(message, params) == first  # a redelivery before anything acted on it
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 1


def test_a_claim_is_one_update_and_a_second_claim_takes_nothing(ctx, writes):
    message, params = _sms("9")
    inbound_id = inbound.store_once(message, params)
    _reset(writes)
    now = utcnow()
    record = inbound.claim(inbound_id, now)
    assert record.id == inbound_id and record.processed_at is not None and record.payload == params
    assert [s.split()[0] for s in writes["statements"] if not s.startswith("BEGIN")] == ["UPDATE", "SELECT"]
    assert writes["flushes"] == []
    db.session.commit()
    assert inbound.claim(inbound_id, utcnow()) is None  # acted on: never again
    db.session.rollback()
    assert inbound.store_once(message, params) is None  # and a redelivery is not acted on


def test_the_outcome_is_one_update_without_a_flush_and_goes_with_a_rollback(ctx, writes):
    message, params = _sms("9")
    inbound_id = inbound.store_once(message, params)
    record = inbound.claim(inbound_id, utcnow())
    _reset(writes)
    inbound.record_outcome(record, "score", None)
    assert writes["statements"] == ["UPDATE INBOUND_MESSAGES"] and writes["flushes"] == []
    assert record.outcome == "score" and not db.session.dirty
    db.session.rollback()
    stored = db.session.get(InboundMessage, inbound_id)
    assert stored.outcome is None and stored.processed_at is None  # the claim went too: the redrive takes it


def test_a_scored_text_is_acted_on_without_a_flush(ctx, writes):
    dispatch_id = _sms_survey()
    message, params = _sms("9")
    inbound_id = inbound.store_once(message, params)
    _reset(writes)
    assert take_message(inbound_id, message) == ["Great to hear! What did you like most?"]
    assert writes["flushes"] == []
    assert not any(s.startswith("SELECT CONSENTS") for s in writes["statements"])  # a score reads no consents
    db.session.expire_all()
    (response,) = db.session.scalars(sa.select(Response)).all()
    assert (response.dispatch_id, response.score, response.completed) == (dispatch_id, 9, False)
    stored = db.session.get(InboundMessage, inbound_id)
    assert (stored.outcome, stored.dispatch_id) == ("score", dispatch_id)
    # The comment completes it, on the progress the thread read.
    comment, comment_params = _sms("Quick delivery", "SM0002")
    take_message(inbound.store_once(comment, comment_params), comment)
    db.session.expire_all()
    response = db.session.scalars(sa.select(Response)).one()
    assert response.completed and [a.value for a in response.answers] == [9, "Quick delivery"]


def test_a_stop_keyword_still_reads_and_changes_the_consents(ctx):
    _sms_survey()
    message, params = _sms("STOP")
    take_message(inbound.store_once(message, params), message)
    db.session.expire_all()
    contact = db.session.scalars(sa.select(Contact)).one()
    assert contact.opted_out(Channel.SMS)
    assert db.session.scalars(sa.select(InboundMessage.outcome)).one() == "opt_out"
