"""Every figure the database counts (overall, per period in a time zone, per group, per sentiment) equals a slow
reference computed row by row in Python from the same random answers: the SQL aggregation, the time-zone
bucketing and the group keys are checked against the plainest possible implementation."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveyd.extensions import db
from surveyd.models import Answer, Contact, Dispatch, Event, Response, Touchpoint
from surveyd.services.design import surveys
from surveyd.services.design.scales import SCALES
from surveyd.services.insight.metric_math import summarize
from surveyd.services.insight.metrics import present, survey_metrics

START = datetime(2026, 3, 1, tzinfo=timezone.utc)  # spans Europe's and Iran's spring clock changes
ZONES = ("UTC", "Asia/Tehran", "Europe/Berlin", "America/New_York")
CHANNELS = ("web", "sms", "email", "telegram")
TOUCHPOINTS = ("order.delivered", "ticket.closed", None)
WORST_FIRST = ("negative", "neutral", "positive")


def rows(kind: str):
    low, high = SCALES[kind]
    return st.lists(st.fixed_dictionaries({
        "score": st.integers(low, high),
        "minutes": st.integers(0, 60 * 24 * 70),  # ten weeks, to the minute: many land near local midnight
        "channel": st.sampled_from(CHANNELS),
        "locale": st.sampled_from(("en", "tr", "fa")),
        "touchpoint": st.sampled_from(TOUCHPOINTS),
        "agent": st.sampled_from(("ada", "bora", None)),
        "moods": st.lists(st.sampled_from(WORST_FIRST), max_size=2),
    }), max_size=40)


@pytest.fixture
def world(app):
    """Three surveys (one per kind), two touchpoints and one contact; the rows come per example."""
    with app.app_context():
        made = {kind: surveys.create_survey({"kind": kind, "template": kind, "locales": ["en"], "name": kind})
                for kind in ("nps", "csat", "ces")}
        db.session.commit()
        now = datetime.now(timezone.utc)
        db.session.execute(sa.insert(Touchpoint), [
            {"key": key, "stage": stage, "created_at": now}
            for key, stage in (("order.delivered", "post_purchase"), ("ticket.closed", "support"))])
        db.session.add(Contact(external_id="someone"))
        db.session.commit()
        ids = {kind: (survey.id, survey.latest.id) for kind, survey in made.items()}
        db.session.remove()
    yield ids


def _store(app, kind: str, survey_id: int, version_id: int, answers: list[dict]) -> None:
    with app.app_context():
        for table in (Answer, Response, Dispatch, Event):
            db.session.execute(sa.delete(table))
        touchpoint_ids = dict(db.session.execute(sa.select(Touchpoint.key, Touchpoint.id)).all())
        contact_id = db.session.scalar(sa.select(Contact.id))
        for n, row in enumerate(answers):
            moment = START + timedelta(minutes=row["minutes"])
            touchpoint = touchpoint_ids.get(row["touchpoint"])
            # A response may lack a touchpoint (answers from before touchpoints were kept); its event never does.
            event = Event(touchpoint_id=touchpoint or touchpoint_ids["order.delivered"], contact_id=contact_id, occurred_at=moment, received_at=moment,
                          attributes={"agent": row["agent"]} if row["agent"] else {})
            db.session.add(event)
            db.session.flush()
            dispatch = Dispatch(event_id=event.id, survey_id=survey_id, survey_version_id=version_id,
                                contact_id=contact_id, channel=row["channel"], status="answered", locale=row["locale"],
                                token_nonce=f"ref-{n}", due_at=moment, expires_at=moment + timedelta(days=14),
                                sent_at=moment)
            db.session.add(dispatch)
            db.session.flush()
            response = Response(dispatch_id=dispatch.id, survey_id=survey_id, survey_version_id=version_id,
                                contact_id=contact_id, event_id=event.id, touchpoint_id=touchpoint,
                                channel=row["channel"], locale=row["locale"], score=row["score"], completed=True,
                                created_at=moment)
            db.session.add(response)
            db.session.flush()
            for q, mood in enumerate(row["moods"]):
                db.session.add(Answer(response_id=response.id, question_id=f"q{q}", value_text="words",
                                      sentiment=mood, sentiment_score=0.0, answered_at=moment))
        db.session.commit()
        db.session.remove()


def _reference_period(moment: datetime, interval: str, zone: str):
    day = moment.astimezone(ZoneInfo(zone)).date()
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _reference_group(row: dict, group_by: str):
    if group_by == "touchpoint":
        return row["touchpoint"]
    if group_by == "stage":
        return {"order.delivered": "post_purchase", "ticket.closed": "support"}.get(row["touchpoint"])
    if group_by == "agent":
        return row["agent"]
    if group_by == "sentiment":
        return next((mood for mood in WORST_FIRST if mood in row["moods"]), None)
    return row[group_by]


def _reference(kind: str, answers: list[dict], key) -> dict:
    scores = defaultdict(list)
    for row in answers:
        scores[key(row)].append(row["score"])
    return {group: present(summarize(kind, values)) for group, values in scores.items()}


@pytest.mark.parametrize("kind", ["nps", "csat", "ces"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_database_counts_what_a_row_by_row_reference_counts(app, world, kind, data):
    answers = data.draw(rows(kind))
    zone = data.draw(st.sampled_from(ZONES))
    interval = data.draw(st.sampled_from(("day", "week", "month")))
    group_by = data.draw(st.sampled_from(("touchpoint", "stage", "channel", "locale", "agent", "sentiment")))
    survey_id, version_id = world[kind]
    _store(app, kind, survey_id, version_id, answers)
    with app.app_context():
        survey = surveys.get_survey(survey_id)
        overall = survey_metrics(survey, None, None, None, None)["overall"]
        series = survey_metrics(survey, None, None, interval, None, tz=zone)["series"]
        groups = survey_metrics(survey, None, None, None, group_by)["groups"]
        db.session.remove()

    assert overall == present(summarize(kind, [row["score"] for row in answers]))
    periods = _reference(kind, answers, lambda row: _reference_period(
        START + timedelta(minutes=row["minutes"]), interval, zone).isoformat())
    assert {point["period_start"]: {k: v for k, v in point.items() if k != "period_start"} for point in series} == {
        start: figure for start, figure in periods.items()}
    expected = _reference(kind, answers, lambda row: _reference_group(row, group_by))
    assert {group["key"]: {k: v for k, v in group.items() if k not in ("key", "differs")} for group in groups} == \
        expected
