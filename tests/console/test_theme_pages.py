"""Comment themes in the console: everyone reads a month's themes; designers and admins find them, rename, merge
and move a comment; agents cannot; refusals change nothing."""
from __future__ import annotations

import re

import pytest

from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    fire,
    ok,
    snapshot,
    web_dispatch,
)
from tests.api.test_themes_api import DELIVERY, PRICE
from tests.console.staff import csrf, signed_in


@pytest.fixture
def themed(api, client):
    """Twenty comments this month about delivery or price, and their themes found."""
    survey = create_survey(api, name="Delivery NPS")
    create_trigger(api, survey["id"])
    for number, comment in enumerate(DELIVERY + PRICE):
        answer(client, web_dispatch(fire(api, "order.delivered", f"c-{number}"))["url"], 8, missing=comment)
    ok(api.post("/themes/build", json={}), 200)
    return ok(api.get("/themes"), 200)


def test_everyone_reads_the_months_themes_with_words_confidence_and_examples(app, themed):
    page = signed_in(app, "agent").get("/console/themes")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'aria-current="page">Themes</a>' in html
    assert "Comments this month: 20;" in html
    for theme in themed["themes"]:
        assert f'href="/console/themes/{theme["id"]}"' in html
        assert f"Comments: {theme['comments']} (" in html
    assert "confidence " in html and "The grouping is a guess" in html
    assert "Find themes" not in html  # an agent reads only
    designer = signed_in(app, "designer").get("/console/themes").get_data(as_text=True)
    assert "Place new comments" in designer and 'name="fresh"' in designer


def test_the_page_speaks_persian(app, themed):
    html = signed_in(app, "agent").get("/console/themes", headers={"Accept-Language": "fa"}).get_data(as_text=True)
    assert 'dir="rtl"' in html and "موضوع‌ها" in html and "نظرهای این ماه: ۲۰" in html


def test_a_designer_renames_merges_and_moves_by_form(app, api, themed):
    designer = signed_in(app, "designer")
    first, second = themed["themes"][0], themed["themes"][1]
    path = f"/console/themes/{first['id']}"
    token = csrf(designer, path)
    renamed = designer.post(f"{path}/rename", data={"csrf_token": token, "name": "Late parcels"})
    assert renamed.status_code == 302 and renamed.headers["Location"] == path
    assert ok(api.get(f"/themes/{first['id']}"), 200)["name"] == "Late parcels"
    assert "<h1 dir=\"auto\">Late parcels</h1>" in designer.get(path).get_data(as_text=True)

    html = designer.get(path).get_data(as_text=True)
    answer_id = int(re.search(r'/comments/(\d+)', html).group(1))
    moved = designer.post(f"{path}/comments/{answer_id}", data={"csrf_token": token, "theme": str(second["id"])})
    assert moved.status_code == 302
    placed = ok(api.get(f"/themes/{second['id']}/comments", query_string={"limit": 500}), 200)["items"]
    assert any(item["answer_id"] == answer_id and item["set_by"] == "staff" for item in placed)
    assert "moved here by staff" in designer.get(f"/console/themes/{second['id']}").get_data(as_text=True)

    merged = designer.post(f"/console/themes/{second['id']}/merge", data={"csrf_token": token, "into": first["id"]})
    assert merged.status_code == 302 and merged.headers["Location"] == path
    assert second["id"] not in {theme["id"] for theme in ok(api.get("/themes"), 200)["themes"]}
    # The merged theme's old address leads to where its comments went.
    assert designer.get(f"/console/themes/{second['id']}").headers["Location"] == path


def test_refusals_change_nothing(app, api, themed):
    designer = signed_in(app, "designer")
    first = themed["themes"][0]
    path = f"/console/themes/{first['id']}"
    token = csrf(designer, path)
    before, listed = snapshot(app, "themes", "comment_themes"), ok(api.get("/themes"), 200)
    answer_id = int(re.search(r'/comments/(\d+)', designer.get(path).get_data(as_text=True)).group(1))

    assert designer.post(f"{path}/rename", data={"name": "No token"}).status_code == 400
    long = designer.post(f"{path}/rename", data={"csrf_token": token, "name": "x" * 121})
    assert long.status_code == 422 and 'id="error-summary"' in long.get_data(as_text=True)
    assert designer.post(f"{path}/merge", data={"csrf_token": token, "into": "x"}).status_code == 422
    assert designer.post(f"{path}/merge", data={"csrf_token": token, "into": "999999"}).status_code == 422
    assert designer.post(f"{path}/merge", data={"csrf_token": token, "into": str(first["id"])}).status_code in (409,
                                                                                                              422)
    assert designer.post(f"{path}/comments/{answer_id}", data={"csrf_token": token, "theme": "x"}).status_code == 422
    assert designer.post(f"{path}/comments/999999", data={"csrf_token": token, "theme": "none"}).status_code == 404
    assert designer.post(f"{path}/comments/{2**64}", data={"csrf_token": token, "theme": "none"}).status_code == 404
    assert designer.post("/console/themes/build", data={"month": "2026-11"}).status_code == 400
    assert designer.get("/console/themes/999999").status_code == 404
    assert designer.get(f"/console/themes/{2**64}").status_code == 404
    for month in ("2026-13", "2999-01", "soon"):
        assert designer.get(f"/console/themes?month={month}").status_code == 404
    agent = signed_in(app, "agent")
    assert agent.post(f"{path}/rename", data={"csrf_token": csrf(agent, path), "name": "Mine"}).status_code == 403

    assert snapshot(app, "themes", "comment_themes") == before
    assert ok(api.get("/themes"), 200) == listed


def test_a_month_without_comments_says_so(app):
    html = signed_in(app, "designer").get("/console/themes?month=2020-01").get_data(as_text=True)
    assert "No customer wrote a comment this month." in html and "Find themes now" in html
