"""Goals: the verdict arithmetic as a pure function of weekly tallies and dates, then the stored goal's window
(its days, its touchpoint, its survey) and the checks a new goal passes, with an injected today."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Goal, Response
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.insight import goals
from surveyd.services.insight.metrics import survey_metrics
from tests.api.helpers import create_survey, create_trigger, ok, survey_answer

MONDAY = date(2027, 1, 4)  # a Monday, so week k of a goal starting on it begins on MONDAY + 7k


def csat_week(satisfied: int, n: int = 10) -> Counter:
    """A week of CSAT answers: `satisfied` fives, the rest ones."""
    return Counter({5: satisfied, 1: n - satisfied})


def weeks(*tallies: Counter) -> dict[date, Counter]:
    return {MONDAY + timedelta(weeks=index): tally for index, tally in enumerate(tallies)}


def assess(weekly, target, today, due_on, kind="csat", starts_on=MONDAY):
    return goals.assess(kind, weekly, target, starts_on, due_on, today)


# The four weeks 50%, 60%, 70%, 80% satisfied (10 answers each) lie on the line 45 + 10 x, x in weeks from the
# start and each week at its middle (x = 0.5 ... 3.5). Judged on the last day of week 4 (28 days elapsed) with
# 14 days to go: 20 more answers expected (40 in 28 days), scoring the line at the middle of the days to come
# (x = (28 + 7) / 7 = 5): 95. The window at the deadline: (65 * 40 + 95 * 20) / 60 = 75.
RISING = weeks(csat_week(5), csat_week(6), csat_week(7), csat_week(8))
LAST_DAY = MONDAY + timedelta(days=27)
DEADLINE = LAST_DAY + timedelta(days=14)


def test_a_rising_trend_is_projected_to_the_deadline():
    progress = assess(RISING, 75, LAST_DAY, DEADLINE)
    assert (progress["current"], progress["n"], progress["weeks"]) == (65.0, 40, 4)
    assert progress["trend_per_week"] == 10.0
    assert progress["projected"] == 75.0
    assert progress["interval"]["low"] < 75  # so the projection alone makes it on track
    assert (progress["verdict"], progress["enough_data"]) == ("on_track", True)
    assert assess(RISING, 75.01, LAST_DAY, DEADLINE)["verdict"] == "at_risk"


def test_a_falling_trend_puts_a_goal_the_score_still_reaches_at_risk():
    falling = weeks(csat_week(9), csat_week(8), csat_week(7), csat_week(6))
    progress = assess(falling, 70, LAST_DAY, DEADLINE)
    assert progress["current"] == 75.0 and progress["trend_per_week"] == -10.0
    assert progress["projected"] == pytest.approx((75 * 40 + 45 * 20) / 60, abs=0.01)  # the line at x = 5 is 45
    assert progress["verdict"] == "at_risk"


def test_the_lower_bound_alone_makes_a_goal_on_track_whatever_the_trend():
    falling = weeks(csat_week(40, 40), csat_week(39, 40), csat_week(38, 40))
    progress = assess(falling, 80, MONDAY + timedelta(days=20), MONDAY + timedelta(days=200))
    assert progress["interval"]["low"] >= 80 and progress["trend_per_week"] < 0
    assert progress["projected"] < 80
    assert progress["verdict"] == "on_track"


def test_without_a_trend_the_projection_is_the_score_as_it_stands():
    two_weeks = weeks(csat_week(16, 20), csat_week(18, 20))
    progress = assess(two_weeks, 85, MONDAY + timedelta(days=13), MONDAY + timedelta(days=60))
    assert progress["trend_per_week"] is None and progress["weeks"] == 2
    assert progress["projected"] == progress["current"] == 85.0
    assert progress["interval"]["low"] < 85 and progress["verdict"] == "on_track"
    assert assess(two_weeks, 85.5, MONDAY + timedelta(days=13), MONDAY + timedelta(days=60))["verdict"] == "at_risk"


def test_too_few_answers_are_at_risk_before_the_deadline_and_say_so():
    few = weeks(csat_week(10), csat_week(10), csat_week(8, 9))
    progress = assess(few, 50, MONDAY + timedelta(days=20), MONDAY + timedelta(days=60))
    assert (progress["n"], progress["current"], progress["enough_data"]) == (goals.MIN_N - 1, 96.55, False)
    assert progress["interval"]["low"] > 50 and progress["trend_per_week"] is not None
    assert progress["verdict"] == "at_risk"
    nothing = assess({}, 50, MONDAY, MONDAY + timedelta(days=60))
    assert (nothing["n"], nothing["current"], nothing["interval"], nothing["projected"]) == (0, None, None, None)
    assert (nothing["verdict"], nothing["enough_data"], nothing["weeks"]) == ("at_risk", False, 0)


def test_after_the_deadline_the_whole_window_decides_met_or_missed():
    after = DEADLINE + timedelta(days=1)
    assert assess(RISING, 65, after, DEADLINE)["verdict"] == "met"  # reaching the target exactly is meeting it
    assert assess(RISING, 65.01, after, DEADLINE)["verdict"] == "missed"
    few = weeks(csat_week(3, 3))
    assert (assess(few, 90, after, DEADLINE)["verdict"], assess(few, 90, after, DEADLINE)["enough_data"]) == (
        "met", False)
    assert assess({}, 0, after, DEADLINE)["verdict"] == "missed"  # no answers never meet a goal
    past = assess(RISING, 65, after, DEADLINE)
    assert (past["projected"], past["counted_until"], past["as_of"]) == (65.0, DEADLINE, after)


def test_on_the_deadline_itself_a_goal_is_not_yet_met():
    progress = assess(RISING, 60, DEADLINE, DEADLINE)
    assert progress["verdict"] == "on_track" and progress["projected"] == progress["current"]
    assert assess(RISING, 80, DEADLINE, DEADLINE)["verdict"] == "at_risk"


def test_nps_and_ces_goals_use_their_own_scores():
    nps = weeks(Counter({10: 20, 0: 10}), Counter({9: 30}), Counter({10: 30}))
    progress = assess(nps, 70, MONDAY + timedelta(days=20), MONDAY + timedelta(days=21), kind="nps")
    assert progress["current"] == round(100 * (80 - 10) / 90, 2) and progress["n"] == 90
    ces = weeks(Counter({7: 15, 6: 15}), Counter({6: 30}), Counter({6: 15, 5: 15}))
    progress = assess(ces, 6.5, MONDAY + timedelta(days=20), MONDAY + timedelta(days=200), kind="ces")
    assert progress["current"] == 6.0 and progress["trend_per_week"] == -0.5
    assert progress["projected"] >= 1.0 and progress["verdict"] == "at_risk"  # the trend is clamped to the scale
    assert goals.target_range("nps") == (-100, 100) and goals.target_range("csat") == (0, 100)
    assert goals.target_range("ces") == (1, 7)


def test_a_partial_first_week_sits_at_the_middle_of_its_counted_days():
    wednesday = MONDAY + timedelta(days=2)  # the window starts mid-week: week 1 counts 5 days, its middle is 2.5
    weekly = weeks(csat_week(5), csat_week(6), csat_week(7))
    line = goals.trend("csat", weekly, wednesday, MONDAY + timedelta(days=20))
    points = [(2.5 / 7, 50), (8.5 / 7, 60), (15.5 / 7, 70)]
    mean_x = sum(x for x, _ in points) / 3
    slope = sum((x - mean_x) * (y - 60) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    assert line.slope == pytest.approx(slope) and line.centre_score == pytest.approx(60)


# The stored goal: its window, its touchpoint, its survey, and the checks on a new one.

def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


@pytest.fixture
def two_surveys(api, client, app):
    """A CSAT survey answered at two touchpoints on chosen days, and an NPS survey answered once."""
    csat = create_survey(api, name="Delivery CSAT", kind="csat", locales=["en"])
    nps = create_survey(api, name="Other NPS", kind="nps", locales=["en"])
    ok(api.put("/touchpoints/order.delivered", json={"stage": "post_purchase"}), 201)
    create_trigger(api, csat["id"], touchpoint="order.delivered")
    create_trigger(api, csat["id"], touchpoint="ticket.closed")
    create_trigger(api, nps["id"], touchpoint="checkout.completed")
    plan = [(5, "order.delivered", MONDAY - timedelta(days=1)),  # the day before the window
            (5, "order.delivered", MONDAY), (1, "order.delivered", MONDAY + timedelta(days=3)),
            (4, "ticket.closed", MONDAY + timedelta(days=3)), (2, "ticket.closed", MONDAY + timedelta(days=10)),
            (5, "order.delivered", MONDAY + timedelta(days=11)),
            (1, "order.delivered", MONDAY + timedelta(days=30))]  # after the deadline
    for number, (score, touchpoint, _) in enumerate(plan):
        survey_answer(api, client, score, external_id=f"g-{number}", touchpoint=touchpoint)
    survey_answer(api, client, 0, external_id="n-0", touchpoint="checkout.completed")
    with app.app_context():
        ids = db.session.scalars(sa.select(Response.id).where(Response.survey_id == csat["id"])
                                 .order_by(Response.id)).all()
        for response_id, (_, _, day) in zip(ids, plan):
            db.session.execute(sa.update(Response).where(Response.id == response_id).values(created_at=_at(day)))
        db.session.execute(sa.update(Response).where(Response.survey_id == nps["id"]).values(created_at=_at(MONDAY)))
        db.session.commit()
        db.session.remove()
    return csat["id"], nps["id"]


def _goal(survey_id: int, today: date = MONDAY, **fields) -> Goal:
    data = {"name": "Delivery CSAT 60", "survey_id": survey_id, "target": 60.0, "by": MONDAY + timedelta(days=20),
            "since": MONDAY}
    data.update(fields)
    return goals.create_goal(data, today=today)


def test_the_window_counts_its_days_its_touchpoint_and_its_survey_only(two_surveys, ctx):
    csat, _ = two_surveys
    whole = _goal(csat)
    delivered = _goal(csat, touchpoint="order.delivered")
    later = MONDAY + timedelta(days=25)
    figures = survey_metrics(whole.survey, _at(MONDAY, 0), _at(whole.due_on + timedelta(days=1), 0), None, "touchpoint")
    progress = goals.goal_progress(whole, later)
    assert (progress["n"], progress["current"], progress["interval"]) == (
        5, figures["overall"]["score"], figures["overall"]["interval"])
    assert progress["current"] == 60.0 and progress["verdict"] == "met"
    by_touchpoint = {group["key"]: group for group in figures["groups"]}
    progress = goals.goal_progress(delivered, later)
    assert (progress["n"], progress["current"]) == (3, by_touchpoint["order.delivered"]["score"]) == (3, 66.67)
    assert goals.weekly_tallies(delivered, later) == {MONDAY: Counter({5: 1, 1: 1}), MONDAY + timedelta(weeks=1):
                                                       Counter({5: 1})}
    # As of day 5 only the first week's answers count.
    early = goals.goal_progress(whole, MONDAY + timedelta(days=5))
    assert (early["n"], early["counted_until"], early["verdict"]) == (3, MONDAY + timedelta(days=5), "at_risk")
    # A goal that starts later than today has counted nothing yet.
    assert goals.goal_progress(_goal(csat, since=MONDAY + timedelta(days=15)), MONDAY)["counted_until"] is None


def test_a_new_goal_is_checked_and_nothing_is_stored_when_refused(two_surveys, ctx):
    csat, nps = two_surveys
    today = MONDAY + timedelta(days=5)
    refusals = [
        ({"target": 100.5}, "target"), ({"target": -0.5}, "target"),
        ({"by": today - timedelta(days=1)}, "by"),
        ({"since": MONDAY + timedelta(days=30)}, "since"),
        ({"touchpoint": "no.such.place"}, "touchpoint"),
        ({"name": "   "}, "name"), ({"name": "x" * 201}, "name"),
    ]
    for fields, field in refusals:
        with pytest.raises(Invalid) as refused:
            _goal(csat, today, **fields)
        assert set(refused.value.fields) == {field}, fields
    for kind_survey, target in ((nps, 100.5), (nps, -101)):
        with pytest.raises(Invalid):
            _goal(kind_survey, today, target=target)
    with pytest.raises(NotFound):
        goals.create_goal({"name": "x", "survey_id": 987654, "target": 50, "by": today}, today=today)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Goal)) == 0
    kept = _goal(csat, today, name="  Spaces trimmed  ", by=today, since=None)
    assert (kept.name, kept.starts_on, kept.due_on) == ("Spaces trimmed", today, today)
    assert _goal(nps, today, target=-100).target == -100


def test_ces_targets_lie_on_its_scale(api, ctx):
    ces = create_survey(api, name="Effort", kind="ces", locales=["en"])
    for target in (0.5, 7.5, 50):
        with pytest.raises(Invalid):
            _goal(ces["id"], target=target)
    assert _goal(ces["id"], target=5.5).target == 5.5


def test_goals_are_listed_by_deadline_read_and_deleted(two_surveys, ctx):
    csat, _ = two_surveys
    late = _goal(csat, by=MONDAY + timedelta(days=90))
    soon = _goal(csat, by=MONDAY + timedelta(days=9))
    assert [goal.id for goal in goals.list_goals()] == [soon.id, late.id]
    assert goals.get_goal(late.id) is late
    reported = goals.report_goals(MONDAY + timedelta(days=30), since=MONDAY + timedelta(days=10))
    assert [goal["id"] for goal in reported] == [late.id]
    # The report formats a goal's figure as any other: by its kind and its `score`.
    assert (reported[0]["kind"], reported[0]["progress"]["score"]) == ("csat", reported[0]["progress"]["current"])
    assert reported[0]["progress"]["as_of"] == MONDAY + timedelta(days=30)
    goals.delete_goal(soon.id)
    with pytest.raises(NotFound):
        goals.get_goal(soon.id)
    for missing in (soon.id, 0, 2**63, 2**70):
        with pytest.raises(NotFound):
            goals.delete_goal(missing)
    assert [goal.id for goal in goals.list_goals()] == [late.id]


def test_the_window_is_counted_in_local_days_of_the_configured_zone(two_surveys, app, ctx):
    import dataclasses

    csat, _ = two_surveys
    # The answer "the day before the window" was given at 12:00 UTC on Sunday: 15:30 that Sunday in Tehran, still
    # outside. Move it to 21:00 UTC: 00:30 on Monday in Tehran, the window's first local day.
    first = db.session.scalar(sa.select(Response).where(Response.survey_id == csat).order_by(Response.id).limit(1))
    first.created_at = datetime.combine(MONDAY - timedelta(days=1), time(21), tzinfo=timezone.utc)
    db.session.commit()
    utc_goal = _goal(csat)
    utc = goals.goal_progress(utc_goal, MONDAY + timedelta(days=25))
    settings = app.config["SURVEYD"]
    app.config["SURVEYD"] = dataclasses.replace(settings, default_timezone="Asia/Tehran")
    try:
        tehran = goals.goal_progress(utc_goal, MONDAY + timedelta(days=25))
        assert tehran["n"] == utc["n"] + 1
        assert goals.weekly_tallies(utc_goal, MONDAY + timedelta(days=25))[MONDAY][5] == 2
    finally:
        app.config["SURVEYD"] = settings
