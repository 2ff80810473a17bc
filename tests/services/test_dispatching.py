"""Sending due dispatches through the channel adapters."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bots.channel import ChannelAdapter, PermanentChannelError, TransientChannelError
from surveyd.extensions import db
from surveyd.models import Channel, Dispatch, SandboxMessage, utcnow
from surveyd.services import channels
from surveyd.services.dispatching import send_due
from tests import factories


@pytest.fixture
def sms_dispatch(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms", "web"])
    factories.contact(locale="tr")
    answer = factories.event()
    return answer["dispatches"][0]["id"]


def _history(dispatch_id):
    dispatch = db.session.get(Dispatch, dispatch_id)
    db.session.refresh(dispatch)
    return [(step.status.value, step.reason) for step in dispatch.history]


def test_sandbox_delivery_renders_the_locale_and_records_each_step(sms_dispatch):
    assert send_due() == 1
    message = db.session.scalar(sa.select(SandboxMessage))
    assert message.channel == Channel.SMS and message.recipient == "+447700900123"
    assert "tavsiye" in message.text and "/s/" in message.text
    assert _history(sms_dispatch) == [("scheduled", None), ("sending", None), ("sent", None), ("delivered", None)]
    assert send_due() == 0  # nothing twice


class _Failing(ChannelAdapter):
    name = "sms"

    def __init__(self, error):
        self.error = error
        self.calls = 0

    def send(self, message):
        self.calls += 1
        raise self.error


@pytest.fixture
def swap_sms(app):
    cache = app.extensions.setdefault("surveyd.channels", {})
    original = dict(channels.adapters())

    def swap(adapter):
        cache["adapters"] = {**original, Channel.SMS: adapter}

    yield swap
    cache["adapters"] = original


def test_transient_failure_goes_back_to_scheduled(sms_dispatch, swap_sms):
    failing = _Failing(TransientChannelError("503 from provider", retry_after=2))
    swap_sms(failing)
    assert send_due() == 0
    dispatch = db.session.get(Dispatch, sms_dispatch)
    db.session.refresh(dispatch)
    assert dispatch.status.value == "scheduled" and dispatch.reason == "retrying" and dispatch.attempts == 1
    assert failing.calls == 1


def test_permanent_failure_fails_with_its_code(sms_dispatch, swap_sms):
    swap_sms(_Failing(PermanentChannelError("21211 invalid number", code="invalid_address")))
    send_due()
    dispatch = db.session.get(Dispatch, sms_dispatch)
    db.session.refresh(dispatch)
    assert (dispatch.status.value, dispatch.reason) == ("failed", "invalid_address")


def test_not_due_yet_is_not_sent(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, channels=["email"], delay_seconds=3600)
    factories.contact()
    factories.event()
    assert send_due() == 0
    assert send_due(now=utcnow() + timedelta(hours=2)) == 1


def test_expired_before_sending_is_expired_not_sent(sms_dispatch):
    db.session.execute(sa.update(Dispatch).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert send_due() == 0
    dispatch = db.session.get(Dispatch, sms_dispatch)
    db.session.refresh(dispatch)
    assert (dispatch.status.value, dispatch.reason) == ("expired", "expired_before_send")
    assert db.session.scalar(sa.select(sa.func.count(SandboxMessage.id))) == 0


def test_lapsed_unanswered_links_expire_and_answered_ones_do_not(ctx):
    from bots.channel import InboundEvent
    from surveyd.services.outbox import expire_overdue
    from surveyd.services.responding import record_answer

    survey = factories.survey()
    factories.trigger(survey.id, channels=["web"], expire_after_seconds=3600)
    factories.contact("a")
    factories.contact("b")
    first = factories.event(external_id="a")["dispatches"][0]["id"]
    second = factories.event(external_id="b")["dispatches"][0]["id"]
    record_answer(db.session.get(Dispatch, second), InboundEvent(kind="answer", channel="web", score=9))
    assert expire_overdue() == 0
    assert expire_overdue(now=utcnow() + timedelta(hours=2)) == 1
    statuses = dict(db.session.execute(sa.select(Dispatch.id, Dispatch.status)).all())
    assert (statuses[first].value, statuses[second].value) == ("expired", "answered")
    assert expire_overdue(now=utcnow() + timedelta(hours=3)) == 0
