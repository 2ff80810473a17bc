"""Rows written without the unit of work: the same rows a flush would write, in the session's transaction."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveyd.database import SNAPSHOT
from surveyd.extensions import db
from surveyd.models import (
    Answer,
    Channel,
    Contact,
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    DispatchStatusChange,
    Event,
    Response,
    SurveyVersion,
    utcnow,
)
from surveyd.services import row_writes
from surveyd.services.design.touchpoints import touchpoint_id as touchpoint_named
from tests import factories, sql_trace


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
    new_id = row_writes.insert(event)
    assert event.id == new_id and new_id > 0
    assert sa.inspect(event).transient  # a record of the row, not a live one
    # The object shows the row as written: the column defaults, and None where nothing was given.
    assert event.attributes == {} and event.received_at is not None and event.response_body is None
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
        row_writes.insert(event)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0


def test_rows_are_in_the_sessions_transaction_and_go_with_its_rollback(touchpoint_and_contact):
    touchpoint_id, contact_id = touchpoint_and_contact
    row_writes.insert(Event(touchpoint_id=touchpoint_id, contact_id=contact_id, occurred_at=utcnow()))
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
    row_writes.insert(dispatch)
    steps = [DispatchStatusChange(dispatch_id=dispatch.id, status=status, reason=None, channel=Channel.WEB, detail=None)
             for status in (DispatchStatus.SCHEDULED, DispatchStatus.SENT, DispatchStatus.ANSWERED)]
    with sql_trace.statements(db.engine) as seen:
        row_writes.insert_all(steps)
        row_writes.insert_all([])  # nothing to write: no statement
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



def _web_dispatch() -> Dispatch:
    """A stored web dispatch, read fresh, through the real services."""
    survey = factories.survey()
    factories.trigger(survey.id)
    factories.contact()
    (planned,) = factories.event()["dispatches"]
    db.session.expire_all()
    return db.session.get(Dispatch, planned["id"])


@pytest.fixture
def flushes(app):
    """The flushes the test's session makes."""
    with sql_trace.flushes() as seen:
        yield seen


def test_attached_rows_are_loaded_rows_of_the_session_and_a_later_change_is_an_update(app, ctx, flushes):
    dispatch = _web_dispatch()
    flushes.clear()  # the setup's
    response = Response(dispatch_id=dispatch.id, survey_id=dispatch.survey_id, score=9,
                        survey_version_id=dispatch.survey_version_id, contact_id=dispatch.contact_id,
                        channel=Channel.WEB, locale="en")
    response.answers.append(Answer(question_id="score", value_number=9))
    row_writes.insert(response)
    (answer,) = response.answers
    answer.response_id = response.id
    row_writes.insert(answer)
    row_writes.attach(response, answer)
    assert sa.inspect(response).persistent and sa.inspect(answer).persistent
    assert not db.session.new and not db.session.dirty and flushes == []
    with sql_trace.statements(db.engine, words=1) as seen:
        assert response.answers == [answer] and answer.response is response
        assert response.dispatch is dispatch  # a relationship loads as on any loaded row (here from the session)
        assert response.completed is False and answer.sentiment is None  # a default and a None
        assert response.created_at is not None and answer.answered_at is not None
    assert seen == []  # all read back with no query
    response.completed = True
    db.session.commit()
    assert len(flushes) == 1  # the change, and nothing inserted again
    db.session.expire_all()
    stored = db.session.scalars(sa.select(Response)).one()
    assert stored.completed is True and [a.value for a in stored.answers] == [9]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 1


def test_attach_refuses_an_object_without_an_id_and_adds_nothing(ctx):
    dispatch = _web_dispatch()
    answer = Answer(question_id="score", value_number=9)
    with pytest.raises(ValueError, match="no id"):
        row_writes.attach(answer)
    assert sa.inspect(answer).transient and not db.session.new
    assert dispatch.status == DispatchStatus.SENT


def test_update_writes_one_statement_and_the_object_reads_as_loaded(app, ctx, flushes):
    dispatch = _web_dispatch()
    flushes.clear()
    before = dispatch.updated_at
    with sql_trace.statements(db.engine, words=1) as seen:
        assert row_writes.update(dispatch, status=DispatchStatus.ANSWERED, reason=None) is True
    assert seen == ["UPDATE"] and flushes == [] and not db.session.dirty
    assert dispatch.status == DispatchStatus.ANSWERED and dispatch.updated_at >= before  # the onupdate value too
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).status == DispatchStatus.ANSWERED


def test_update_goes_with_the_rollback(ctx):
    dispatch = _web_dispatch()
    row_writes.update(dispatch, status=DispatchStatus.EXPIRED, reason="expired")
    db.session.rollback()
    assert db.session.get(Dispatch, dispatch.id).status == DispatchStatus.SENT


def test_update_of_an_object_with_other_changes_joins_their_flush(app, ctx, flushes):
    dispatch = _web_dispatch()
    flushes.clear()
    dispatch.attempts = 3  # pending: this row owes a flush anyway
    with sql_trace.statements(db.engine, words=1) as seen:
        assert row_writes.update(dispatch, status=DispatchStatus.FAILED, reason="x") is False
    assert seen == [] and dispatch in db.session.dirty
    db.session.commit()
    assert len(flushes) == 1
    db.session.expire_all()
    stored = db.session.get(Dispatch, dispatch.id)
    assert (stored.status, stored.reason, stored.attempts) == (DispatchStatus.FAILED, "x", 3)


def test_an_event_for_a_new_contact_is_written_without_a_flush(ctx, flushes):
    survey = factories.survey()
    factories.trigger(survey.id)
    flushes.clear()
    answer = factories.event(external_id="new-1", attributes={"order": "A1"})
    assert flushes == [] and answer["dispatches"][0]["status"] == "sent"
    db.session.expire_all()
    (contact,) = db.session.scalars(sa.select(Contact)).all()
    assert contact.external_id == "new-1" and contact.attributes == {} and contact.created_at is not None
    assert db.session.get(Event, answer["id"]).contact_id == contact.id


def test_an_event_that_changes_a_contact_or_gives_a_consent_still_writes_them(ctx):
    survey = factories.survey()
    factories.trigger(survey.id)
    factories.contact("known-1", name="Old Name")
    factories.event(external_id="known-1", contact={"external_id": "known-1", "name": "New Name"})
    factories.event(external_id="new-2", contact={"external_id": "new-2", "email": "b@example.com",
                                                  "consent": {"email": "opted_out"}})
    db.session.expire_all()
    known = db.session.scalars(sa.select(Contact).where(Contact.external_id == "known-1")).one()
    fresh = db.session.scalars(sa.select(Contact).where(Contact.external_id == "new-2")).one()
    assert known.name == "New Name"
    assert fresh.email == "b@example.com" and fresh.opted_out(Channel.EMAIL)


def _sms_dispatches(count: int) -> list[Dispatch]:
    """Stored SMS dispatches, read fresh, through the real services."""
    survey = factories.survey()
    factories.trigger(survey.id, channels=["sms"], delay_seconds=3600)
    for n in range(count):
        factories.contact(f"t{n}", phone=f"+4477009003{n:02d}")
        factories.event(external_id=f"t{n}")
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Dispatch).order_by(Dispatch.id)))


def _step(dispatch: Dispatch, status: DispatchStatus) -> DispatchStatusChange:
    return DispatchStatusChange(dispatch_id=dispatch.id, status=status, channel=dispatch.channel)


def _stored(dispatch_id: int) -> tuple:
    # What the database holds, whatever the session thinks: another connection, reading (on SQLite, beside the writer).
    with db.engine.connect().execution_options(**{SNAPSHOT: True}) as other:
        return other.execute(sa.select(Dispatch.status, Dispatch.attempts).where(Dispatch.id == dispatch_id)).one()


def test_together_writes_one_statement_per_table_and_shape_when_the_block_ends(app, ctx, flushes):
    dispatches = _sms_dispatches(3)
    flushes.clear()
    with sql_trace.statements(db.engine, words=1) as seen:
        with row_writes.together():
            for dispatch in dispatches:
                assert row_writes.update(dispatch, status=DispatchStatus.QUEUED, reason=None) is True
                row_writes.update(dispatch, attempts=dispatch.attempts + 1)  # the same row: merged with the above
                row_writes.add(_step(dispatch, DispatchStatus.QUEUED))
            assert seen == [] and dispatches[0].status == DispatchStatus.QUEUED  # set on the objects, not yet sent
        assert seen == ["UPDATE", "INSERT"]  # each an executemany of three rows
    assert flushes == [] and not db.session.dirty
    db.session.commit()
    for dispatch in dispatches:
        assert _stored(dispatch.id) == (DispatchStatus.QUEUED, 1)
        steps = db.session.scalars(sa.select(DispatchStatusChange.status).where(
            DispatchStatusChange.dispatch_id == dispatch.id).order_by(DispatchStatusChange.id)).all()
        assert steps == [DispatchStatus.SCHEDULED, DispatchStatus.QUEUED]


def test_together_writes_its_queue_before_a_query_a_flush_or_a_commit_inside_the_block(ctx):
    first, second, third = _sms_dispatches(3)
    with row_writes.together():
        row_writes.update(first, status=DispatchStatus.QUEUED)
        # A query reads what the block wrote so far (as autoflush does for the ORM's own changes).
        assert db.session.scalar(sa.select(Dispatch.status).where(Dispatch.id == first.id)) == DispatchStatus.QUEUED
        row_writes.update(second, status=DispatchStatus.QUEUED)
        second.status = DispatchStatus.FAILED  # a later change by hand: its flush must not be overtaken
        db.session.flush()
        row_writes.update(third, attempts=5)
        db.session.commit()  # the queue goes first, even with nothing else to flush
        assert _stored(third.id) == (DispatchStatus.SCHEDULED, 5)
    assert _stored(first.id)[0] == DispatchStatus.QUEUED and _stored(second.id)[0] == DispatchStatus.FAILED


def test_together_leaves_nothing_after_a_rollback_or_an_exception(ctx):
    first, second = _sms_dispatches(2)
    with sql_trace.statements(db.engine, words=1) as seen:
        with row_writes.together():
            row_writes.update(first, status=DispatchStatus.EXPIRED)
            row_writes.add(_step(first, DispatchStatus.EXPIRED))
            db.session.rollback()
        assert seen == []  # the queue went with its transaction
        with pytest.raises(RuntimeError, match="a bug"):
            with row_writes.together():
                row_writes.update(second, status=DispatchStatus.EXPIRED)
                raise RuntimeError("a bug")
        assert seen == []
    db.session.rollback()
    assert _stored(first.id)[0] == _stored(second.id)[0] == DispatchStatus.SCHEDULED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DispatchStatusChange)) == 2  # the planned ones


def test_together_refuses_a_savepoint_inside_its_block(ctx):
    (dispatch,) = _sms_dispatches(1)
    with pytest.raises(RuntimeError, match="savepoints"):
        with row_writes.together():
            row_writes.update(dispatch, status=DispatchStatus.QUEUED)
            db.session.begin_nested()
    db.session.rollback()
    assert _stored(dispatch.id)[0] == DispatchStatus.SCHEDULED
