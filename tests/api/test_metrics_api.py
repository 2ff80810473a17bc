"""Metrics over the API, checked against PRODUCT.md's definitions on answers made through the loop."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from surveyd.services.dispatch.sending import send_due
from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    error_of,
    fire,
    ok,
    responses,
    survey_answer,
    web_dispatch,
)

NPS_POINTS = [str(p) for p in range(0, 11)]


def metrics(api, survey_id: int, **query) -> dict:
    return ok(api.get(f"/surveys/{survey_id}/metrics", query_string=query), 200)


def answered(api, client, kind: str, scores: list[int], touchpoint: str = "order.delivered", **survey) -> dict:
    created = create_survey(api, kind=kind, locales=["en", "tr"], **survey)
    create_trigger(api, created["id"], touchpoint=touchpoint)
    for index, score in enumerate(scores):
        survey_answer(api, client, score, external_id=f"{kind}-{index}", touchpoint=touchpoint)
    return created


def check_interval(figure: dict, low: float, high: float) -> None:
    interval = figure["interval"]
    assert interval["level"] == 0.95
    assert low <= interval["low"] <= figure["score"] <= interval["high"] <= high, figure
    assert interval["low"] < interval["high"]


def test_nps_is_promoters_minus_detractors(api, client):
    survey = answered(api, client, "nps", [10, 9, 8, 0])
    body = metrics(api, survey["id"])

    assert body["survey_id"] == survey["id"] and body["kind"] == "nps"
    overall = body["overall"]
    assert overall["score"] == 25.0
    assert overall["n"] == 4
    check_interval(overall, -100, 100)
    assert overall["shares"] == {"promoters": 50.0, "passives": 25.0, "detractors": 25.0}
    assert set(overall["distribution"]) == set(NPS_POINTS)
    assert {k: v for k, v in overall["distribution"].items() if v} == {"0": 1, "8": 1, "9": 1, "10": 1}
    assert body.get("series") is None and body.get("groups") is None


def test_nps_extremes(api, client):
    survey = answered(api, client, "nps", [0, 3, 6])
    overall = metrics(api, survey["id"])["overall"]
    assert overall["score"] == -100.0 and overall["n"] == 3
    assert overall["interval"]["low"] >= -100 and overall["interval"]["high"] <= 100


def test_csat_is_the_share_of_4_and_5(api, client):
    survey = answered(api, client, "csat", [5, 4, 3, 2, 1])
    overall = metrics(api, survey["id"])["overall"]
    assert overall["score"] == 40.0
    assert overall["n"] == 5
    assert overall["shares"] == {"satisfied": 40.0}
    check_interval(overall, 0, 100)
    assert overall["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}


def test_ces_is_the_mean_with_the_easy_share(api, client):
    survey = answered(api, client, "ces", [7, 6, 5, 2])
    overall = metrics(api, survey["id"])["overall"]
    assert overall["score"] == 5.0
    assert overall["n"] == 4
    assert overall["shares"] == {"easy": 75.0}
    check_interval(overall, 1, 7)
    assert overall["share_interval"]["low"] <= 75.0 <= overall["share_interval"]["high"]
    assert set(overall["distribution"]) == {str(p) for p in range(1, 8)}


def test_no_answers_and_one_answer(api, client):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"])
    overall = metrics(api, survey["id"])["overall"]
    assert overall["n"] == 0 and overall["score"] is None and overall["interval"] is None
    assert sum(overall["distribution"].values()) == 0

    survey_answer(api, client, 5)
    overall = metrics(api, survey["id"])["overall"]
    assert overall["n"] == 1 and overall["score"] == 100.0
    assert overall["interval"] is None  # n does not allow an interval


def test_only_this_surveys_answers_count(api, client):
    nps = answered(api, client, "nps", [10, 10])
    other = create_survey(api, name="Other", kind="nps", locales=["en"])
    create_trigger(api, other["id"], touchpoint="ticket.closed")
    survey_answer(api, client, 0, external_id="x", touchpoint="ticket.closed")
    assert metrics(api, nps["id"])["overall"]["score"] == 100.0
    assert metrics(api, nps["id"])["overall"]["n"] == 2
    other_overall = metrics(api, other["id"])["overall"]
    assert (other_overall["score"], other_overall["n"]) == (-100.0, 1)


def test_since_and_until_filter(api, client):
    survey = answered(api, client, "nps", [10, 0])
    stamps = {r["score"]: r["created_at"] for r in responses(api)}

    assert metrics(api, survey["id"], since=stamps[0])["overall"]["n"] == 1
    assert metrics(api, survey["id"], since=stamps[0])["overall"]["score"] == -100.0
    assert metrics(api, survey["id"], until=stamps[0])["overall"]["score"] == 100.0
    assert metrics(api, survey["id"], since="2999-01-01T00:00:00Z")["overall"]["n"] == 0
    body = metrics(api, survey["id"], since="2000-01-01T00:00:00Z", until="2999-01-01T00:00:00Z")
    assert body["overall"]["n"] == 2
    assert body["since"].startswith("2000-01-01T00:00:00") and body["until"].startswith("2999-01-01T00:00:00")


@pytest.mark.parametrize("since, until", [
    ("2024-05-02T00:00:00Z", "2024-05-01T00:00:00Z"),
    ("2024-05-01T00:00:00Z", "2024-05-01T00:00:00Z"),
    ("2024-05-01T03:00:00+03:00", "2024-05-01T00:00:00Z"),
])
def test_since_not_before_until_is_422(api, since, until):
    survey = create_survey(api, kind="nps", locales=["en"])
    error = error_of(api.get(f"/surveys/{survey['id']}/metrics", query_string={"since": since, "until": until}), 422)
    assert "until" in error["fields"] or "since" in error["fields"]


@pytest.mark.parametrize("query, field", [
    ({"group_by": "weather"}, "group_by"),
    ({"group_by": "attribute."}, "group_by"),
    ({"group_by": "contact"}, "group_by"),
    ({"interval": "hour"}, "interval"),
    ({"since": "soon"}, "since"),
])
def test_bad_query_is_422(api, query, field):
    survey = create_survey(api, kind="nps", locales=["en"])
    error = error_of(api.get(f"/surveys/{survey['id']}/metrics", query_string=query), 422)
    assert field in error["fields"], error


def test_unknown_survey_is_404(api):
    assert error_of(api.get("/surveys/4040/metrics"), 404)["code"] == "not_found"
    assert error_of(api.get("/surveys/4040/metrics", query_string={"interval": "day"}), 404)["code"] == "not_found"


def _period(day: date, interval: str) -> str:
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    return day.isoformat()


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_series_of_todays_answers(api, client, interval):
    survey = answered(api, client, "csat", [5, 1])
    created = {datetime.fromisoformat(r["created_at"]).astimezone(timezone.utc).date() for r in responses(api)}
    body = metrics(api, survey["id"], interval=interval)
    assert body["interval"] == interval
    expected = sorted({_period(day, interval) for day in created})
    assert [p["period_start"] for p in body["series"]] == expected
    assert sum(p["n"] for p in body["series"]) == 2
    if len(expected) == 1:
        (period,) = body["series"]
        assert period["score"] == 50.0 and period["distribution"]["5"] == 1 and period["distribution"]["1"] == 1


def _backdate(app, moments: dict[int, datetime]) -> None:
    """Move answers back in time; the API offers no way to answer in the past."""
    from surveyd.extensions import db
    from surveyd.models.base import UTCDateTime

    # Bound through the model's column type, so SQLite stores the text the app itself writes.
    update = sa.text("UPDATE responses SET created_at = :at WHERE id = :id").bindparams(sa.bindparam("at", type_=UTCDateTime()))
    with app.app_context():
        for response_id, moment in moments.items():
            db.session.execute(update, {"at": moment, "id": response_id})
        db.session.commit()
        db.session.remove()


def test_series_over_several_periods(api, client, app):
    survey = answered(api, client, "nps", [10, 0, 9, 9, 7])
    ids = {r["score"]: r["id"] for r in responses(api)}
    by_score = {r["id"]: r["score"] for r in responses(api)}
    utc = timezone.utc
    # Wed 2024-01-31, Thu 2024-02-01 (same ISO week), Mon 2024-02-05 (next week), Sat 2024-03-30.
    when = [datetime(2024, 1, 31, 23, 59, tzinfo=utc), datetime(2024, 2, 1, 0, 1, tzinfo=utc),
            datetime(2024, 2, 5, 12, tzinfo=utc), datetime(2024, 2, 5, 13, tzinfo=utc), datetime(2024, 3, 30, 8, tzinfo=utc)]
    order = [ids[10], ids[0], *[i for i, s in by_score.items() if s == 9], ids[7]]
    _backdate(app, dict(zip(order, when)))

    days = metrics(api, survey["id"], interval="day")["series"]
    assert [(p["period_start"], p["n"], p["score"]) for p in days] == [
        ("2024-01-31", 1, 100.0), ("2024-02-01", 1, -100.0), ("2024-02-05", 2, 100.0), ("2024-03-30", 1, 0.0)]
    weeks = metrics(api, survey["id"], interval="week")["series"]
    assert [(p["period_start"], p["n"], p["score"]) for p in weeks] == [
        ("2024-01-29", 2, 0.0), ("2024-02-05", 2, 100.0), ("2024-03-25", 1, 0.0)]
    months = metrics(api, survey["id"], interval="month")["series"]
    assert [(p["period_start"], p["n"], p["score"]) for p in months] == [
        ("2024-01-01", 1, 100.0), ("2024-02-01", 3, 33.33), ("2024-03-01", 1, 0.0)]

    february = metrics(api, survey["id"], since="2024-02-01T00:00:00Z", until="2024-03-01T00:00:00Z", interval="month")
    assert february["overall"]["n"] == 3
    assert [p["period_start"] for p in february["series"]] == ["2024-02-01"]
    assert metrics(api, survey["id"], until="2024-02-01T00:00:00Z")["overall"]["n"] == 1
    # A time zone in the bounds is honoured: 03:00+03:00 is midnight UTC, 02:59+03:00 is 23:59 UTC the day before.
    assert metrics(api, survey["id"], since="2024-02-01T03:00:00+03:00", until="2024-02-02T00:00:00Z")["overall"]["n"] == 1
    assert metrics(api, survey["id"], since="2024-02-01T02:59:00+03:00", until="2024-02-02T00:00:00Z")["overall"]["n"] == 2


def _sandbox_link(app, dispatch_id: int) -> str:
    """The survey link inside a message the sandbox delivered (what a tester reads in the inbox)."""
    from surveyd.extensions import db

    with app.app_context():
        text = db.session.execute(
            sa.text("SELECT text FROM sandbox_messages WHERE dispatch_id = :id"), {"id": dispatch_id}
        ).scalar_one()
        db.session.remove()
    return re.search(r"http://surveyd\.test/s/[A-Za-z0-9_.-]+", text).group(0)


def test_group_by_channel(api, client, app):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["sms", "web"])
    survey_answer(api, client, 5, external_id="w1")
    survey_answer(api, client, 1, external_id="w2")
    (sms,) = fire(api, external_id="s1", contact={"phone": "+905321234567"})["dispatches"]
    assert sms["channel"] == "sms"
    with app.app_context():
        assert send_due() == 1
    answer(client, _sandbox_link(app, sms["id"]), 4)

    body = metrics(api, survey["id"], group_by="channel")
    assert body["group_by"] == "channel"
    assert [(g["key"], g["n"], g["score"]) for g in body["groups"]] == [("web", 2, 50.0), ("sms", 1, 100.0)]
    assert {r["channel"] for r in responses(api)} == {"web", "sms"}


def test_group_by_touchpoint_and_stage(api, client):
    survey = create_survey(api, kind="nps", locales=["en"])
    create_trigger(api, survey["id"], touchpoint="order.delivered")
    create_trigger(api, survey["id"], touchpoint="support.ticket.closed")
    ok(api.put("/touchpoints/order.delivered", json={"stage": "post_purchase"}), 200)
    for index, score in enumerate([10, 9, 0]):
        survey_answer(api, client, score, external_id=f"o{index}", touchpoint="order.delivered")
    survey_answer(api, client, 2, external_id="t0", touchpoint="support.ticket.closed")

    body = metrics(api, survey["id"], group_by="touchpoint")
    assert [(g["key"], g["n"], g["score"]) for g in body["groups"]] == [
        ("order.delivered", 3, 33.33), ("support.ticket.closed", 1, -100.0)]
    body = metrics(api, survey["id"], group_by="stage")
    assert [(g["key"], g["n"], g["score"]) for g in body["groups"]] == [("post_purchase", 3, 33.33), ("support", 1, -100.0)]
    assert sum(g["n"] for g in body["groups"]) == metrics(api, survey["id"])["overall"]["n"]


def test_group_by_locale(api, client):
    survey = create_survey(api, kind="csat", locales=["en", "tr"])
    create_trigger(api, survey["id"])
    for index, (locale, score) in enumerate([("tr-TR", 5), ("tr", 4), ("en", 1), ("de", 2)]):
        body = fire(api, external_id=f"c{index}", contact={"locale": locale})
        answer(client, web_dispatch(body)["url"], score)
    body = metrics(api, survey["id"], group_by="locale")
    # A locale the survey does not offer falls back to its first one.
    assert [(g["key"], g["n"], g["score"]) for g in body["groups"]] == [("en", 2, 0.0), ("tr", 2, 100.0)]


def test_group_by_event_and_contact_attribute(api, client):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"])
    rows = [("kadikoy", "gold", 5), ("kadikoy", "silver", 4), ("besiktas", "gold", 1), (None, None, 3)]
    for index, (store, tier, score) in enumerate(rows):
        attributes = {"store": store} if store else {}
        contact = {"attributes": {"tier": tier}} if tier else {}
        body = fire(api, external_id=f"c{index}", attributes=attributes, contact=contact)
        answer(client, web_dispatch(body)["url"], score)

    body = metrics(api, survey["id"], group_by="attribute.store")
    assert body["group_by"] == "attribute.store"
    groups = [(g["key"], g["n"], g["score"]) for g in body["groups"]]
    assert groups[0] == ("kadikoy", 2, 100.0)  # the biggest group first
    assert sorted(groups[1:], key=str) == sorted([("besiktas", 1, 0.0), (None, 1, 0.0)], key=str)
    body = metrics(api, survey["id"], group_by="contact.tier")
    groups = {g["key"]: (g["n"], g["score"]) for g in body["groups"]}
    assert groups == {"gold": (2, 50.0), "silver": (1, 100.0), None: (1, 0.0)}


def test_interval_and_group_by_together(api, client):
    survey = answered(api, client, "nps", [10, 0, 5])
    body = metrics(api, survey["id"], interval="month", group_by="channel")
    assert sum(p["n"] for p in body["series"]) == 3
    assert [(g["key"], g["n"]) for g in body["groups"]] == [("web", 3)]
    assert body["overall"]["score"] == round(100 * (1 - 2) / 3, 2)


def test_group_by_agent_marks_the_groups_that_really_differ(api, client):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"])
    answers = [("ana", 5)] * 12 + [("bo", 1)] * 12 + [("cy", 5), ("cy", 4), ("cy", 4), ("cy", 2), ("cy", 1)] + [(None, 3)]
    for index, (agent, score) in enumerate(answers):
        body = fire(api, external_id=f"a{index}", attributes={"agent": agent} if agent else {})
        answer(client, web_dispatch(body)["url"], score)
    body = metrics(api, survey["id"], group_by="agent")
    overall = body["overall"]["interval"]
    groups = {g["key"]: g for g in body["groups"]}
    assert {key: (g["n"], g["score"]) for key, g in groups.items()} == {
        "ana": (12, 100.0), "bo": (12, 0.0), "cy": (5, 60.0), None: (1, 0.0)}
    assert {key: g["differs"] for key, g in groups.items()} == {"ana": True, "bo": True, "cy": False, None: False}
    for g in groups.values():  # the mark says exactly that the intervals do not overlap (no interval: no mark)
        apart = bool(g["interval"]) and (g["interval"]["high"] < overall["low"] or g["interval"]["low"] > overall["high"])
        assert g["differs"] == apart
    assert all("differs" in g for g in metrics(api, survey["id"], group_by="channel")["groups"])
