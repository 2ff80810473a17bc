"""Rows written without the unit of work: the same rows a flush would write, in the session's transaction."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    DispatchStatusChange,
    Event,
    SurveyVersion,
    utcnow,
)
from surveyd.services import row_inserts
from surveyd.services.design.touchpoints import touchpoint_id as touchpoint_named
from tests import factories


@pytest.fixture
def touchpoint_and_contact(ctx):
    """A stored touchpoint and contact for events to point at."""
    contact = factories.contact()
    touchpoint = touchpoint_named("order.delivered")
    db.session.commit()
    return touchpoint, contact.id


def test_insert_gives_the_id_writes_the_defaults_and_leaves_the_object_out_of_the_session(touchpoint_and_contact):
    touchpoint_id, contact_id = touchpoint_and_contact
    event = Event(touchpoint_id=touchpoint_id, contact_id=contact_id, occurred_at=utcnow())
    new_id = row_inserts.insert(event)
    assert event.id == new_id and new_id > 0
    assert sa.inspect(event).transient  # a record of the row, not a live one
    db.session.commit()
    stored = db.session.get(Event, new_id)
    assert stored.attributes == {} and stored.received_at is not None  # the model's column defaults
    assert stored.contact_id == contact_id and stored.response_body is None


def test_insert_refuses_an_object_in_a_session_and_writes_nothing(touchpoint_and_contact):
    touchpoint_id, contact_id = touchpoint_and_contact
    event = Event(touchpoint_id=touchpoint_id, contact_id=contact_id, occurred_at=utcnow())
    db.session.add(event)
    db.session.flush()
    with pytest.raises(ValueError, match="transient"):
        row_inserts.insert(event)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_rows_are_in_the_sessions_transaction_and_go_with_its_rollback(touchpoint_and_contact):
    touchpoint_id, contact_id = touchpoint_and_contact
    row_inserts.insert(Event(touchpoint_id=touchpoint_id, contact_id=contact_id, occurred_at=utcnow()))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 1  # the session sees it
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_insert_all_writes_every_object_in_one_statement(app, touchpoint_and_contact):
    survey = factories.survey()
    answer = factories.event()  # a survey without a trigger plans nothing; this only makes an event to hang on
    assert answer["dispatches"] == []
    dispatch = Dispatch(event_id=answer["id"], survey_id=survey.id, survey_version_id=db.session.scalar(
                            sa.select(SurveyVersion.id).where(SurveyVersion.survey_id == survey.id)),
                        contact_id=touchpoint_and_contact[1], channel=Channel.WEB, purpose=DispatchPurpose.INVITATION,
                        status=DispatchStatus.SCHEDULED, locale="en", token_nonce="n" * 32,
                        due_at=utcnow(), expires_at=utcnow())
    row_inserts.insert(dispatch)
    steps = [DispatchStatusChange(dispatch_id=dispatch.id, status=status, reason=None, channel=Channel.WEB, detail=None)
             for status in (DispatchStatus.SCHEDULED, DispatchStatus.SENT, DispatchStatus.ANSWERED)]
    seen = []
    engine = db.engine
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        row_inserts.insert_all(steps)
        row_inserts.insert_all([])  # nothing to write: no statement
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    db.session.commit()
    assert len([s for s in seen if s.lstrip().upper().startswith("INSERT")]) == 1
    stored = db.session.scalars(sa.select(DispatchStatusChange.status).where(
        DispatchStatusChange.dispatch_id == dispatch.id).order_by(DispatchStatusChange.id)).all()
    assert stored == [DispatchStatus.SCHEDULED, DispatchStatus.SENT, DispatchStatus.ANSWERED]


def test_an_events_web_link_and_its_reminder_are_stored_parent_first_with_their_steps(ctx):
    survey = factories.survey()
    factories.trigger(survey.id, reminder={"after_seconds": 3600, "channel": "email"})
    factories.contact()
    answer = factories.event(key="reminder-1")
    (planned,) = answer["dispatches"]
    assert planned["status"] == "sent" and planned["url"]
    rows = db.session.scalars(sa.select(Dispatch).order_by(Dispatch.id)).all()
    invitation, reminder = rows
    assert invitation.id == planned["id"] and invitation.event_id == answer["id"]
    assert reminder.parent_id == invitation.id and reminder.purpose == DispatchPurpose.REMINDER
    assert reminder.status == DispatchStatus.SCHEDULED and reminder.reason == "reminder"
    assert [step.status for step in invitation.history] == [DispatchStatus.SCHEDULED, DispatchStatus.SENT]
    assert invitation.history[1].detail == {"via": "api_response"}
    assert [step.status for step in reminder.history] == [DispatchStatus.SCHEDULED]
    assert invitation.attempts == 0 and invitation.created_at is not None  # column defaults, as a flush writes them
    # A replay answers byte for byte and stores nothing more.
    assert factories.event(key="reminder-1") == answer
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispatch)) == 2

