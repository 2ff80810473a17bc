"""The "what would happen" check: the plan the real planner makes, for a stored or a typed contact, writing
nothing; each case is checked against what a real event then plans."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Dispatch, DispatchStatus, utcnow
from surveyd.services.dispatch import what_if
from surveyd.services.errors import NotFound
from tests import factories


def rows() -> dict[str, int]:
    """Row counts of every table."""
    return {table.name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in db.metadata.sorted_tables}


def planned(event: dict) -> Dispatch:
    """The one invitation a real event planned."""
    (one,) = event["dispatches"]
    return db.session.get(Dispatch, one["id"])


def agree(outcome: what_if.Outcome, dispatch: Dispatch) -> None:
    decision = outcome.decision
    assert (decision.channel, decision.status, decision.reason) == (dispatch.channel, dispatch.status, dispatch.reason)


@pytest.fixture
def survey(ctx):
    return factories.survey(locales=["en", "fa"])


def test_a_plain_send_and_nothing_written(survey):
    factories.trigger(survey.id, channels=["telegram", "sms", "email"])
    contact = factories.contact("ada", timezone="Asia/Tehran", locale="fa")
    before = rows()
    (outcome,) = what_if.check("order.delivered", what_if.stored_contact("ada"), {}, utcnow())
    db.session.commit()  # anything the check had slipped into the session would be stored now
    assert rows() == before
    assert outcome.decision.status == DispatchStatus.SCHEDULED and outcome.decision.channel.value == "sms"
    assert outcome.decision.locale == "fa" and outcome.timezone == "Asia/Tehran"
    assert outcome.local_due.utcoffset() == timedelta(hours=3, minutes=30)
    assert outcome.decision.expires_at - outcome.decision.due_at == timedelta(days=14)
    agree(outcome, planned(factories.event(external_id="ada")))
    assert contact.id is not None


def test_quiet_hours_hold_the_send_in_the_contacts_zone(survey):
    zone = ZoneInfo("America/New_York")
    local_now = datetime.now(timezone.utc).astimezone(zone)
    end_local = (local_now + timedelta(hours=3)).replace(second=0, microsecond=0)
    window = {"start": (local_now - timedelta(hours=1)).strftime("%H:%M"), "end": end_local.strftime("%H:%M")}
    factories.trigger(survey.id, channels=["sms"], quiet_hours=window)
    factories.contact("nyc", phone="+12125550123", timezone="America/New_York")
    (outcome,) = what_if.check("order.delivered", what_if.stored_contact("nyc"), {}, utcnow())
    assert outcome.decision.reason == "quiet_hours" and outcome.local_due == end_local
    assert outcome.decision.detail == {"timezone": "America/New_York", "quiet_hours": window}
    real = planned(factories.event(external_id="nyc"))
    agree(outcome, real)
    assert real.due_at == outcome.decision.due_at


def test_a_failed_condition_names_the_condition(survey):
    condition = {"field": "event.amount", "op": "gte", "value": 100}
    factories.trigger(survey.id, channels=["email"], conditions=[condition])
    factories.contact("bob")
    (outcome,) = what_if.check("order.delivered", what_if.stored_contact("bob"), {"amount": 20}, utcnow())
    assert (outcome.decision.status, outcome.decision.reason) == (DispatchStatus.SUPPRESSED, "condition")
    assert outcome.decision.detail["condition"]["field"] == "event.amount"
    agree(outcome, planned(factories.event(external_id="bob", attributes={"amount": 20})))
    (asked,) = what_if.check("order.delivered", what_if.stored_contact("bob"), {"amount": 150}, utcnow())
    assert asked.decision.status == DispatchStatus.SCHEDULED


def test_contact_frequency_sees_whom_the_planner_asked(survey):
    factories.trigger(survey.id, channels=["email"], throttle_days=30)
    factories.contact("cy")
    first = planned(factories.event(external_id="cy"))
    assert first.status == DispatchStatus.SCHEDULED
    (outcome,) = what_if.check("order.delivered", what_if.stored_contact("cy"), {}, utcnow())
    assert outcome.decision.reason == "throttled" and outcome.decision.detail["previous_dispatch_id"] == first.id
    agree(outcome, planned(factories.event(external_id="cy")))


def test_a_typed_contact_is_never_stored(survey):
    factories.trigger(survey.id, channels=["sms", "email"], conditions=[
        {"field": "contact.tier", "op": "in", "value": ["gold"]}])
    before = rows()
    typed = what_if.typed_contact({"email": "new@example.com", "locale": "tr", "timezone": "Europe/Istanbul"},
                                  {"tier": "gold"})
    (outcome,) = what_if.check("order.delivered", typed, {}, utcnow())
    assert (outcome.decision.channel.value, outcome.decision.status) == ("email", DispatchStatus.SCHEDULED)
    assert outcome.decision.locale == "en"  # the survey offers en and fa only
    (nobody,) = what_if.check("order.delivered", what_if.typed_contact({}, {"tier": "gold"}), {}, utcnow())
    assert nobody.decision.reason == "no_address"
    db.session.commit()
    assert rows() == before


def test_sampling_is_a_chance_unless_it_is_all_or_nothing(survey):
    factories.trigger(survey.id, channels=["email"], sample_rate=0.25)
    factories.trigger(survey.id, channels=["email"], sample_rate=0.0, touchpoint="never.asked")
    factories.contact("dee")
    (some,) = what_if.check("order.delivered", what_if.stored_contact("dee"), {}, utcnow())
    assert some.chance == 0.25 and some.decision.status == DispatchStatus.SCHEDULED
    (none,) = what_if.check("never.asked", what_if.stored_contact("dee"), {}, utcnow())
    assert none.decision.reason == "sampled_out" and none.chance is None
    agree(none, planned(factories.event("never.asked", external_id="dee")))


def test_a_touchpoint_without_active_triggers_or_an_unknown_contact_is_not_found(survey):
    trigger = factories.trigger(survey.id, channels=["email"], touchpoint="paused.one", enabled=False)
    with pytest.raises(NotFound):
        what_if.check("paused.one", what_if.typed_contact({}, {}), {}, utcnow())
    with pytest.raises(NotFound):
        what_if.check("no.such.touchpoint", what_if.typed_contact({}, {}), {}, utcnow())
    with pytest.raises(NotFound):
        what_if.stored_contact("nobody")
    assert trigger.enabled is False


def test_an_earlier_trigger_of_the_same_event_counts_for_contact_frequency(survey):
    factories.trigger(survey.id, channels=["email"], throttle_days=30)
    factories.trigger(survey.id, channels=["email"], throttle_days=30)
    factories.contact("eve")
    first, second = what_if.check("order.delivered", what_if.stored_contact("eve"), {}, utcnow())
    assert first.decision.status == DispatchStatus.SCHEDULED and second.decision.reason == "throttled"
    real = factories.event(external_id="eve")["dispatches"]
    assert [(d["status"], d.get("reason")) for d in real] == [("scheduled", None), ("suppressed", "throttled")]
