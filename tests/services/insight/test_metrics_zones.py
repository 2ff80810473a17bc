"""Periods in a configured time zone (half-hour offsets, a DST change), group_by=sentiment, JSON attribute keys, and
the drill-down finding exactly what each zoned point counts."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Answer, Event, Response
from surveyd.services.design import surveys
from surveyd.services.insight import drilldown, local_days
from tests.api.helpers import create_survey, create_trigger, error_of, ok, survey_answer


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _answered(api, client, app, moments: list[datetime], scores: list[int] | None = None) -> int:
    made = create_survey(api, kind="nps", locales=["en", "tr"])
    create_trigger(api, made["id"], touchpoint="order.delivered")
    for index, _ in enumerate(moments):
        survey_answer(api, client, (scores or [9] * len(moments))[index], external_id=f"z-{index}")
    with app.app_context():
        ids = db.session.scalars(sa.select(Response.id).where(Response.survey_id == made["id"])
                                 .order_by(Response.id)).all()
        for response_id, moment in zip(ids, moments):
            db.session.execute(sa.update(Response).where(Response.id == response_id).values(created_at=moment))
        db.session.commit()
        db.session.remove()
    return made["id"]


def _series(api, survey_id: int, interval: str, tz: str | None) -> dict[str, int]:
    query = {"interval": interval, **({"tz": tz} if tz else {})}
    body = ok(api.get(f"/surveys/{survey_id}/metrics", query_string=query), 200)
    return {point["period_start"]: point["n"] for point in body["series"]}


CASES = {
    # New York: DST starts 2026-03-08 02:00 local (07:00Z); midnight is 05:00Z before, 04:00Z after
    "America/New_York": (["2026-03-08T04:59:59", "2026-03-08T05:00:00", "2026-03-09T03:59:59", "2026-03-09T04:00:00"],
                         {"2026-03-07": 1, "2026-03-08": 2, "2026-03-09": 1}),
    "Asia/Tehran": (["2026-05-10T20:29:59", "2026-05-10T20:30:00"], {"2026-05-10": 1, "2026-05-11": 1}),  # +03:30
    "Asia/Kolkata": (["2026-05-10T18:29:59", "2026-05-10T18:30:00"], {"2026-05-10": 1, "2026-05-11": 1}),  # +05:30
    "Europe/Berlin": (["2026-10-24T21:59:59", "2026-10-24T22:00:00", "2026-10-25T22:59:59", "2026-10-25T23:00:00"],
                      {"2026-10-24": 1, "2026-10-25": 2, "2026-10-26": 1}),  # DST ends 2026-10-25 03:00 local
}


@pytest.mark.parametrize("zone", sorted(CASES))
def test_days_start_at_local_midnight(api, client, app, zone):
    moments, expected = CASES[zone]
    survey_id = _answered(api, client, app, [at(m) for m in moments])
    # the zone's own calendar agrees with the figures
    assert expected == {d: sum(1 for m in moments if at(m).astimezone(ZoneInfo(zone)).date().isoformat() == d)
                        for d in expected}
    assert _series(api, survey_id, "day", zone) == expected
    assert _series(api, survey_id, "day", "UTC") != expected  # the zone made a difference


def test_weeks_start_on_local_monday_and_months_on_the_local_first(api, client, app):
    # 2026-05-10 is a Sunday; 20:30Z is Monday 00:00 in Tehran. 2026-05-31T21:00Z is 1 June 00:30 in Tehran (a Monday).
    survey_id = _answered(api, client, app, [at("2026-05-10T20:29:59"), at("2026-05-10T20:30:00"),
                                             at("2026-05-31T21:00:00")])
    assert _series(api, survey_id, "week", "Asia/Tehran") == {"2026-05-04": 1, "2026-05-11": 1, "2026-06-01": 1}
    assert _series(api, survey_id, "month", "Asia/Tehran") == {"2026-05-01": 2, "2026-06-01": 1}
    assert _series(api, survey_id, "month", "UTC") == {"2026-05-01": 3}


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tehran"])
def test_the_drill_down_finds_what_each_zoned_point_counts(api, client, app, zone):
    moments = CASES["America/New_York"][0] + CASES["Asia/Tehran"][0]
    survey_id = _answered(api, client, app, [at(m) for m in moments])
    with app.app_context():
        survey = surveys.get_survey(survey_id)
        for interval in ("day", "week", "month"):
            series = _series(api, survey_id, interval, zone)
            for start, n in series.items():
                found = drilldown.responses(survey, drilldown.Filters(
                    period=date.fromisoformat(start), interval=interval, tz=zone)).total
                assert found == n, (interval, start)
            assert sum(series.values()) == len(moments)
        db.session.remove()


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "+03:30"])
def test_an_unknown_zone_is_422(api, client, app, tz):
    survey_id = _answered(api, client, app, [at("2026-05-10T12:00:00")])
    error = error_of(api.get(f"/surveys/{survey_id}/metrics", query_string={"interval": "day", "tz": tz}), 422)
    assert "tz" in str(error["fields"])


def test_the_drill_down_refuses_an_unknown_zone(api, client, app):
    survey_id = _answered(api, client, app, [at("2026-05-10T12:00:00")])
    with app.app_context():
        with pytest.raises(drilldown.Invalid) as raised:
            drilldown.check(surveys.get_survey(survey_id), drilldown.Filters(tz="Nowhere/Else"))
        assert "tz" in raised.value.fields
        db.session.remove()


def test_pieces_cut_at_the_transitions():
    cut = local_days.pieces("America/New_York", at("2026-01-01T00:00:00"), at("2027-01-01T00:00:00"))
    assert [(p.start, p.end, p.offset) for p in cut] == [
        (at("2026-01-01T00:00:00"), at("2026-03-08T07:00:00"), -5 * 3600),
        (at("2026-03-08T07:00:00"), at("2026-11-01T06:00:00"), -4 * 3600),
        (at("2026-11-01T06:00:00"), at("2027-01-01T00:00:00"), -5 * 3600)]
    assert [p.offset for p in local_days.pieces("Asia/Kolkata", at("2026-01-01T00:00:00"),
                                                at("2027-01-01T00:00:00"))] == [19800]


def test_group_by_sentiment_is_the_most_negative_comment(api, client, app):
    survey_id = _answered(api, client, app, [at("2026-05-10T12:00:00")] * 5, scores=[10, 9, 0, 5, 8])
    labels = [("positive", "negative"), ("neutral", "positive"), ("positive", None), ("pending", None), (None, None)]
    with app.app_context():
        ids = db.session.scalars(sa.select(Response.id).where(Response.survey_id == survey_id)
                                 .order_by(Response.id)).all()
        for response_id, pair in zip(ids, labels):
            for number, label in enumerate(pair):
                if label is not None:
                    db.session.add(Answer(response_id=response_id, question_id=f"note-{number}", value_text="words",
                                          sentiment=label))
        db.session.commit()
        db.session.remove()
    body = ok(api.get(f"/surveys/{survey_id}/metrics", query_string={"group_by": "sentiment"}), 200)
    groups = {group["key"]: (group["n"], group["distribution"]) for group in body["groups"]}
    assert set(groups) == {"negative", "neutral", "positive", None}
    assert groups["negative"][0] == 1 and groups["negative"][1]["10"] == 1
    assert groups["neutral"][0] == 1 and groups["neutral"][1]["9"] == 1
    assert groups["positive"][0] == 1 and groups["positive"][1]["0"] == 1
    assert groups[None][0] == 2  # a comment still pending, and no comment at all
    assert body["overall"]["n"] == 5


def test_attribute_keys_read_as_before_for_numbers_booleans_and_null(api, client, app):
    survey_id = _answered(api, client, app, [at("2026-05-10T12:00:00")] * 6)
    values = [5, "5", 2.5, True, None, "x"]
    with app.app_context():
        events = db.session.scalars(sa.select(Response.event_id).where(Response.survey_id == survey_id)
                                    .order_by(Response.id)).all()
        for event_id, value in zip(events, values):
            db.session.execute(sa.update(Event).where(Event.id == event_id).values(attributes={"level": value}))
        db.session.commit()
        db.session.remove()
    body = ok(api.get(f"/surveys/{survey_id}/metrics", query_string={"group_by": "attribute.level"}), 200)
    assert {group["key"]: group["n"] for group in body["groups"]} == {"5": 2, "2.5": 1, "True": 1, None: 1, "x": 1}
