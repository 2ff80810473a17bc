"""POST/GET/DELETE /goals: goals stored, their progress the metrics' own figures for the same window, each of the
four verdicts from answers built for it, and refusals that store nothing."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from surveyd.models import Goal, Response, utcnow
from tests.api.helpers import (
    check_each,
    count_rows,
    create_survey,
    create_trigger,
    error_of,
    ok,
    raw_json,
    survey_answer,
)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.utc)


def _update(app, model, row_id: int, **values) -> None:
    """Move stored rows in time; the API offers no way to answer, or to set a deadline, in the past."""
    from surveyd.extensions import db

    with app.app_context():
        db.session.execute(sa.update(model).where(model.id == row_id).values(**values))
        db.session.commit()
        db.session.remove()


def _delete(api, path: str):
    return api.client.delete("/api/v1" + path, headers={"Authorization": f"Bearer {api.key}"})


def _metrics(api, survey_id: int, since: date, until: date, **query) -> dict:
    return ok(api.get(f"/surveys/{survey_id}/metrics", query_string={
        "since": _at(since, 0).isoformat(), "until": _at(until, 0).isoformat(), **query}), 200)


@pytest.fixture
def today() -> date:
    return utcnow().date()


@pytest.fixture
def csat(api, client, app, today):
    """A CSAT survey answered at two touchpoints over three weeks: 36 answers at order.delivered, rising from half
    satisfied to five in six (T-20: 6 of 12, T-13: 8 of 12, T-6: 10 of 12), 4 at ticket.closed and 2 before them."""
    made = create_survey(api, name="Delivery CSAT", kind="csat", locales=["en"])
    create_trigger(api, made["id"], touchpoint="order.delivered")
    create_trigger(api, made["id"], touchpoint="ticket.closed")
    plan = []
    for days_ago, satisfied in ((20, 6), (13, 8), (6, 10)):
        plan += [(5 if index < satisfied else 2, "order.delivered", days_ago) for index in range(12)]
    plan += [(1, "ticket.closed", 3), (1, "ticket.closed", 0), (4, "ticket.closed", 9), (5, "ticket.closed", 0)]
    plan += [(5, "order.delivered", 40), (5, "ticket.closed", 30)]  # before every window below
    for number, (score, touchpoint, _) in enumerate(plan):
        survey_answer(api, client, score, external_id=f"c-{number}", touchpoint=touchpoint)
    from surveyd.extensions import db

    with app.app_context():
        ids = db.session.scalars(sa.select(Response.id).order_by(Response.id)).all()
        for response_id, (_, _, days_ago) in zip(ids, plan):
            db.session.execute(sa.update(Response).where(Response.id == response_id)
                               .values(created_at=_at(today - timedelta(days=days_ago))))
        db.session.commit()
        db.session.remove()
    return made


def _goal(api, survey_id: int, **fields) -> dict:
    body = {"name": "Delivered CSAT", "survey_id": survey_id, "target": 70, "by": "2099-06-30", **fields}
    return ok(api.post("/goals", json=body), 201)


def test_a_goal_is_stored_read_listed_and_deleted(api, csat, today):
    made = _goal(api, csat["id"], name="CSAT at least 90% for order.delivered", target=90,
                 by="2027-06-30" if today <= date(2027, 6, 30) else "2099-06-30", touchpoint="order.delivered")
    assert {key: made[key] for key in ("name", "survey_id", "kind", "touchpoint", "target", "since")} == {
        "name": "CSAT at least 90% for order.delivered", "survey_id": csat["id"], "kind": "csat",
        "touchpoint": "order.delivered", "target": 90.0, "since": today.isoformat()}
    assert datetime.fromisoformat(made["created_at"]).tzinfo is not None
    assert set(made["progress"]) >= {"current", "n", "interval", "verdict", "enough_data", "projected",
                                     "trend_per_week"}
    assert made["progress"]["verdict"] in ("on_track", "at_risk")
    other = _goal(api, csat["id"], by=(today + timedelta(days=3)).isoformat())
    assert other["touchpoint"] is None
    assert ok(api.get(f"/goals/{made['id']}"), 200) == made
    assert [goal["id"] for goal in ok(api.get("/goals"), 200)["items"]] == [other["id"], made["id"]]  # due first

    response = _delete(api, f"/goals/{made['id']}")
    assert response.status_code == 204 and response.get_data() == b""
    assert error_of(api.get(f"/goals/{made['id']}"), 404)["code"] == "not_found"
    error_of(_delete(api, f"/goals/{made['id']}"), 404)
    assert [goal["id"] for goal in ok(api.get("/goals"), 200)["items"]] == [other["id"]]


def test_progress_is_the_metrics_for_the_goals_window(api, csat, today):
    since = today - timedelta(days=21)
    whole = _goal(api, csat["id"], since=since.isoformat())["progress"]
    figures = _metrics(api, csat["id"], since, today + timedelta(days=1), group_by="touchpoint")
    assert (whole["current"], whole["n"], whole["interval"]) == (
        figures["overall"]["score"], figures["overall"]["n"], figures["overall"]["interval"])
    answered_on = [today - timedelta(days=days) for days in (20, 13, 6, 3, 0, 9)]
    mondays = {day - timedelta(days=day.weekday()) for day in answered_on}
    assert whole["n"] == 40 and whole["weeks"] == len(mondays)  # the answers 30 and 40 days ago are before it

    delivered = _goal(api, csat["id"], since=since.isoformat(), touchpoint="order.delivered")["progress"]
    group = next(g for g in figures["groups"] if g["key"] == "order.delivered")
    assert (delivered["current"], delivered["n"], delivered["interval"]) == (group["score"], group["n"],
                                                                            group["interval"])
    assert (delivered["n"], delivered["current"]) == (36, 66.67)

    recent = _goal(api, csat["id"], since=(today - timedelta(days=6)).isoformat(), touchpoint="ticket.closed")
    figures = _metrics(api, csat["id"], today - timedelta(days=6), today + timedelta(days=1), group_by="touchpoint")
    group = next(g for g in figures["groups"] if g["key"] == "ticket.closed")
    assert (recent["progress"]["n"], recent["progress"]["current"]) == (group["n"], group["score"]) == (3, 33.33)


def test_each_verdict_from_answers_built_for_it(api, app, csat, today):
    since = (today - timedelta(days=21)).isoformat()
    at = {"since": since, "touchpoint": "order.delivered"}  # 36 answers, 66.67% satisfied and rising

    rising = _goal(api, csat["id"], target=70, by=(today + timedelta(days=30)).isoformat(), **at)["progress"]
    assert rising["current"] < 70 and rising["interval"]["low"] < 70 and rising["trend_per_week"] > 0
    assert rising["projected"] >= 70 and rising["enough_data"]
    assert rising["verdict"] == "on_track"

    tomorrow = _goal(api, csat["id"], target=70, by=(today + timedelta(days=1)).isoformat(), **at)["progress"]
    assert tomorrow["projected"] < 70 and tomorrow["verdict"] == "at_risk"  # no time left for the trend to help

    verdicts = {}
    for target in (66, 67):
        goal = _goal(api, csat["id"], target=target, by=(today + timedelta(days=30)).isoformat(), **at)
        _update(app, Goal, goal["id"], due_on=today - timedelta(days=1))  # the deadline has passed
        verdicts[target] = ok(api.get(f"/goals/{goal['id']}"), 200)["progress"]
    assert (verdicts[66]["verdict"], verdicts[67]["verdict"]) == ("met", "missed")
    assert verdicts[66]["current"] == 66.67 and verdicts[66]["counted_until"] == (today - timedelta(days=1)).isoformat()

    closed = _goal(api, csat["id"], target=10, since=since, by=(today + timedelta(days=30)).isoformat(),
                   touchpoint="ticket.closed")["progress"]
    assert (closed["n"], closed["enough_data"], closed["verdict"]) == (4, False, "at_risk")  # too few to say more


def test_refusals_store_nothing(api, app, csat, today):
    nps = create_survey(api, name="NPS", kind="nps", locales=["en"])
    base = {"name": "Goal", "survey_id": csat["id"], "target": 80, "by": (today + timedelta(days=9)).isoformat()}
    cases = [
        ({k: v for k, v in base.items() if k != "name"}, 422, "name"),
        ({k: v for k, v in base.items() if k != "survey_id"}, 422, "survey_id"),
        ({k: v for k, v in base.items() if k != "target"}, 422, "target"),
        ({k: v for k, v in base.items() if k != "by"}, 422, "by"),
        ({**base, "name": ""}, 422, "name"), ({**base, "name": "   "}, 422, "name"),
        ({**base, "name": "n" * 201}, 422, "name"),
        ({**base, "survey_id": 987654}, 404, None),
        ({**base, "survey_id": 2**63}, 422, "survey_id"), ({**base, "survey_id": 10**30}, 422, "survey_id"),
        ({**base, "survey_id": 0}, 422, "survey_id"), ({**base, "survey_id": "1"}, 422, "survey_id"),
        ({**base, "touchpoint": "no.such.place"}, 422, "touchpoint"),
        ({**base, "touchpoint": "Not A Key"}, 422, "touchpoint"),
        ({**base, "target": 100.5}, 422, "target"), ({**base, "target": -1}, 422, "target"),
        ({**base, "survey_id": nps["id"], "target": -101}, 422, "target"), ({**base, "target": "high"}, 422, "target"),
        ({**base, "target": 10**400}, 422, "target"),
        ({**base, "by": (today - timedelta(days=1)).isoformat()}, 422, "by"), ({**base, "by": "2027-02-30"}, 422, "by"),
        ({**base, "by": "next year"}, 422, "by"),
        ({**base, "since": (today + timedelta(days=10)).isoformat()}, 422, "since"),
        ({**base, "colour": "red"}, 422, "colour"),
    ]

    def check(body, status, field):
        error = error_of(api.post("/goals", json=body), status)
        if field:
            assert field in error["fields"], error

    check_each(cases, check)
    truncated = raw_json(api, "POST", "/goals", '{"name": "Goal", "survey_id": ')
    assert error_of(truncated, 400)["code"] == "malformed_request"
    error_of(raw_json(api, "POST", "/goals", "name=Goal", content_type="application/x-www-form-urlencoded"), 400)
    error_of(raw_json(api, "POST", "/goals", "[1, 2]"), 422)
    assert count_rows(app, "goals") == 0
    ok(api.post("/goals", json=base), 201)  # the same body, right, is taken
    assert count_rows(app, "goals") == 1


def test_unknown_goals_and_no_key(api, client):
    for path in ("/goals/424242", "/goals/99999999999999999999", "/goals/0"):
        assert error_of(api.get(path), 404)["code"] == "not_found"
        error_of(_delete(api, path), 404)
    assert api.get("/goals/first").status_code == 404
    for method, path in (("get", "/goals"), ("post", "/goals"), ("get", "/goals/1"), ("delete", "/goals/1")):
        assert getattr(client, method)("/api/v1" + path).status_code == 401
