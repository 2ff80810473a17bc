"""The drill-down finds exactly the answers each figure of the metrics counts; the response rate counts invitations
sent in the period and the answered ones; a customer's words are shown as they chose them."""
from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Dispatch, DispatchPurpose, DispatchStatus, Response, utcnow
from surveyd.services.design import surveys
from surveyd.services.errors import Invalid
from surveyd.services.insight import drilldown
from surveyd.services.insight.metrics import survey_metrics
from tests.api.helpers import create_survey, create_trigger, fire, ok, survey_answer


@pytest.fixture
def answered(api, client, app):
    """A CSAT survey's answers at two touchpoints, over three months, one of them without a touchpoint."""
    made = create_survey(api, name="Spread CSAT", kind="csat", locales=["en", "tr"])
    ok(api.put("/touchpoints/order.delivered", json={"stage": "post_purchase"}), 201)
    for touchpoint in ("order.delivered", "refund.paid"):
        create_trigger(api, made["id"], touchpoint=touchpoint)
    plan = [(5, "order.delivered", 0), (4, "order.delivered", 0), (1, "refund.paid", 0), (3, "order.delivered", 9),
            (2, "refund.paid", 9), (5, "refund.paid", 40), (1, "order.delivered", 70), (4, "order.delivered", 0)]
    for number, (score, touchpoint, _) in enumerate(plan):
        survey_answer(api, client, score, external_id=f"s-{number}", touchpoint=touchpoint)
    with app.app_context():
        ids = db.session.scalars(sa.select(Response.id).order_by(Response.id)).all()
        for response_id, (_, _, days_ago) in zip(ids, plan):
            db.session.execute(sa.update(Response).where(Response.id == response_id)
                               .values(created_at=utcnow() - timedelta(days=days_ago)))
        db.session.execute(sa.update(Response).where(Response.id == ids[-1]).values(touchpoint_id=None))
        db.session.commit()
        db.session.remove()
    return made["id"]


def test_every_figure_of_the_metrics_is_found_by_the_filter_that_names_it(answered, ctx):
    survey = surveys.get_survey(answered)
    since = utcnow() - timedelta(days=60)
    checked = 0

    def found(**narrowing) -> int:
        return drilldown.responses(survey, drilldown.Filters(since=since, **narrowing)).total

    for group_by in ("touchpoint", "stage", "channel", "locale"):
        for group in survey_metrics(survey, since, None, None, group_by)["groups"]:
            assert found(**{group_by: drilldown.NONE if group["key"] is None else group["key"]}) == group["n"]
            checked += 1
    for interval in ("day", "week", "month"):
        for point in survey_metrics(survey, since, None, interval, None)["series"]:
            assert found(period=date.fromisoformat(point["period_start"]), interval=interval) == point["n"]
            checked += 1
    overall = survey_metrics(survey, since, None, None, None)["overall"]
    for score, n in overall["distribution"].items():
        assert found(score=int(score)) == n
    assert found(band="positive") + found(band="neutral") + found(band="negative") == overall["n"] == 7
    assert found(band="positive") == 4 and found(band="negative") == 2 and found(touchpoint=drilldown.NONE) == 1
    assert checked >= 12


def test_a_filter_that_names_no_answer_of_the_survey_is_refused(answered, ctx):
    survey = surveys.get_survey(answered)
    for filters, field in ((drilldown.Filters(score=6), "score"), (drilldown.Filters(band="meh"), "band"),
                           (drilldown.Filters(stage="launch"), "stage"), (drilldown.Filters(channel="fax"), "channel"),
                           (drilldown.Filters(interval="week"), "period")):
        with pytest.raises(Invalid) as refused:
            drilldown.responses(survey, filters)
        assert set(refused.value.fields) == {field}


def test_the_response_rate_counts_invitations_sent_in_the_period_and_the_answered_ones(api, client, app):
    made = create_survey(api, name="Rate NPS", locales=["en"])
    create_trigger(api, made["id"], reminder={"after_seconds": 3600, "channel": "email"})
    for number in range(3):
        survey_answer(api, client, 9, external_id=f"r-{number}")
    for number in range(2):
        fire(api, "order.delivered", f"quiet-{number}")
    other = create_survey(api, name="Other NPS", locales=["en"])
    create_trigger(api, other["id"], touchpoint="ticket.closed")
    survey_answer(api, client, 3, external_id="o-1", touchpoint="ticket.closed")
    with app.app_context():
        invitations = db.session.scalars(sa.select(Dispatch).where(
            Dispatch.survey_id == made["id"], Dispatch.purpose == DispatchPurpose.INVITATION).order_by(Dispatch.id)).all()
        invitations[-1].sent_at = utcnow() - timedelta(days=40)  # an unanswered one sent before the period
        reminders = db.session.scalars(sa.select(Dispatch).where(Dispatch.purpose == DispatchPurpose.REMINDER)).all()
        assert reminders  # the trigger's reminders, planned for every invitation
        reminders[0].status, reminders[0].sent_at = DispatchStatus.SENT, utcnow()  # a reminder is no new invitation
        db.session.commit()
        rates = drilldown.response_rates(utcnow() - timedelta(days=30))
        assert (rates[made["id"]].sent, rates[made["id"]].answered) == (4, 3)
        assert rates[made["id"]].rate == 75.0
        assert (rates[other["id"]].sent, rates[other["id"]].answered) == (1, 1)
        assert drilldown.response_rates(utcnow() - timedelta(days=50))[made["id"]].sent == 5
        assert drilldown.ResponseRate(0, 0).rate is None
        db.session.remove()


def test_a_customers_words_show_as_they_chose_them():
    version = SimpleNamespace(default_locale="en", questions=[
        {"id": "score", "type": "scale"}, {"id": "why", "type": "text"},
        {"id": "what", "type": "choice", "options": [{"id": "late", "label": {"en": "It came late", "tr": "Geç geldi"}},
                                                     {"id": "broken", "label": {"en": "It came broken"}}]}])

    def said(locale: str, *answers: tuple[str, str | None]) -> list[str]:
        response = SimpleNamespace(survey_version=version, locale=locale, answers=[
            SimpleNamespace(question_id=question, value_text=text) for question, text in answers])
        return drilldown.comments(response)

    assert said("tr", ("score", None), ("why", "Kutu ezik"), ("what", "late")) == ["Kutu ezik", "Geç geldi"]
    assert said("tr", ("what", "broken")) == ["It came broken"]  # no Turkish label: the survey's first language
    assert said("en", ("what", "gone"), ("removed", "kept as said")) == ["gone", "kept as said"]
