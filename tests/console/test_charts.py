"""The dashboard's trend chart: points placed inside the picture, empty weeks left out, the numbers beside it."""
from __future__ import annotations

import pytest

from surveyd.console import charts
from tests.api.helpers import create_survey, create_trigger, survey_answer
from tests.console.staff import signed_in


def week(start: str, score, n: int) -> dict:
    return {"period_start": start, "score": score, "n": n, "interval": None}


def test_points_stay_inside_the_picture_and_higher_scores_sit_higher():
    trend = charts.trend("nps", [week("2026-11-02", -100.0, 3), week("2026-11-09", None, 0),
                                 week("2026-11-16", 100.0, 4), week("2026-11-23", 25.0, 5)])
    assert [p.period for p in trend.points] == ["2026-11-02", "2026-11-16", "2026-11-23"]  # the empty week skipped
    assert all(charts.PAD <= p.x <= charts.WIDTH - charts.PAD for p in trend.points)
    assert [p.y for p in trend.points] == [trend.bottom, trend.top, pytest.approx(trend.baseline - 0.25 * (
        trend.baseline - trend.top), abs=0.1)]
    assert trend.points[0].x < trend.points[1].x < trend.points[2].x
    assert trend.line == " ".join(f"{p.x},{p.y}" for p in trend.points)


def test_one_week_is_a_point_in_the_middle_and_ces_uses_its_own_scale():
    (point,) = charts.trend("ces", [week("2026-11-02", 7.0, 2)]).points
    assert point.x == charts.WIDTH / 2 and point.y == charts.PAD


def test_the_dashboard_draws_each_surveys_trend_with_its_numbers(api, client, app):
    survey = create_survey(api, kind="csat", locales=["en"], name="Support CSAT")
    create_trigger(api, survey["id"], channels=["web"])
    survey_answer(api, client, 5, external_id="happy")
    page = signed_in(app, "designer").get("/console/").get_data(as_text=True)
    assert '<svg viewBox="0 0 320 120" role="group"' in page and "Weekly score of Support CSAT" in page
    assert '<circle class="point"' in page and "<summary>The numbers</summary>" in page
    assert '<td class="num">100.0</td>' in page  # the week's CSAT, in the table beside the picture


def test_a_distribution_has_a_bar_for_every_point_of_the_scale_and_counts_per_band():
    shown = charts.distribution("nps", {"0": 1, "6": 3, "8": 2, "10": 4})
    assert [bar.score for bar in shown.bars] == list(range(11)) and shown.total == 10
    assert shown.bands == {"negative": 4, "neutral": 2, "positive": 4}
    tallest = max(shown.bars, key=lambda bar: bar.count)
    assert tallest.score == 10 and tallest.y == charts.PAD and tallest.height == charts.HEIGHT - 2 * charts.PAD
    assert next(bar for bar in shown.bars if bar.score == 5).height == 0
    empty = charts.distribution("ces", {})
    assert len(empty.bars) == 7 and empty.total == 0 and all(bar.height == 0 for bar in empty.bars)
