"""The drill-down page itself: what each row shows, every filter its form offers, refusals named all at once in the
reader's language, and who may read it."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, Response, utcnow
from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    fire,
    ok,
    survey_answer,
    web_dispatch,
)
from tests.console.staff import signed_in

ROW = '<tr class="response-row">'


def total(html: str) -> int:
    return int(re.search(r'data-total="(\d+)"', html).group(1))


@pytest.fixture
def survey(api, client, app):
    """An NPS survey answered at two touchpoints; the detractor's comment raised an alert."""
    made = create_survey(api, name="Drill NPS", locales=["en", "tr"])
    ok(api.put("/touchpoints/order.delivered", json={"stage": "post_purchase"}), 201)
    create_trigger(api, made["id"], touchpoint="order.delivered")
    create_trigger(api, made["id"], touchpoint="ticket.closed")
    survey_answer(api, client, 2, external_id="ada", touchpoint="order.delivered", improve="The box was crushed")
    survey_answer(api, client, 9, external_id="bob", touchpoint="order.delivered")
    survey_answer(api, client, 10, external_id="cem", touchpoint="ticket.closed")
    body = fire(api, "ticket.closed", "deniz", contact={"locale": "tr"})
    answer(client, web_dispatch(body)["url"], 7)
    return made


def test_each_row_shows_when_who_where_what_they_said_and_the_alert(app, survey):
    html = signed_in(app, "designer").get("/console/responses", query_string={"survey": survey["id"]}).get_data(
        as_text=True)
    assert total(html) == 4 and html.count(ROW) == 4
    with app.app_context():
        alert_id = db.session.scalar(sa.select(Alert.id))
        db.session.remove()
    row = next(chunk for chunk in html.split(ROW)[1:] if "/console/contacts/ada" in chunk).split("</tr>")[0]
    assert 'href="/console/contacts/ada"' in row and "<code class=\"key\">order.delivered</code>" in row
    assert "The box was crushed" in row and "Web · <span dir=\"ltr\">en</span>" in row
    assert f'href="/console/alerts/{alert_id}">Alert #{alert_id}</a>' in row
    turkish = next(chunk for chunk in html.split(ROW)[1:] if "/console/contacts/deniz" in chunk).split("</tr>")[0]
    assert "ticket.closed" in turkish and '<span dir="ltr">tr</span>' in turkish and "Alert #" not in turkish


@pytest.mark.parametrize("query, found", [
    ({"touchpoint": "order.delivered"}, 2),
    ({"touchpoint": "ticket.closed"}, 2),
    ({"touchpoint": "nowhere"}, 0),
    ({"stage": "post_purchase"}, 2),
    ({"stage": "support"}, 2),  # ticket.closed's stage is guessed from its key
    ({"band": "negative"}, 1),
    ({"band": "neutral"}, 1),
    ({"band": "positive"}, 2),
    ({"score": "9"}, 1),
    ({"band": "positive", "touchpoint": "ticket.closed"}, 1),
    ({"channel": "web"}, 4),
    ({"channel": "sms"}, 0),
    ({"locale": "tr"}, 1),
])
def test_each_filter_narrows_the_answers(app, survey, query, found):
    page = signed_in(app, "agent").get("/console/responses", query_string={"survey": survey["id"], **query})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and total(html) == found and html.count(ROW) == found
    for name, value in query.items():  # the form shows the filter it applied
        assert re.search(rf'name="{name}" value="{re.escape(value)}"', html) or \
            re.search(rf'<option value="{re.escape(value)}" selected>', html), (name, value)


def test_a_time_range_and_a_period_count_answers_by_when_they_came(app, survey):
    with app.app_context():
        oldest = db.session.scalar(sa.select(Response).order_by(Response.id))
        oldest.created_at = utcnow() - timedelta(days=40)
        db.session.commit()
        db.session.remove()
    viewer = signed_in(app, "designer")
    today = utcnow().date()
    monday = today - timedelta(days=today.weekday())

    def count(**query) -> int:
        page = viewer.get("/console/responses", query_string={"survey": survey["id"], **query})
        assert page.status_code == 200, page.get_data(as_text=True)
        return total(page.get_data(as_text=True))

    assert count(since=(today - timedelta(days=30)).isoformat()) == 3
    assert count(until=(today - timedelta(days=30)).isoformat()) == 1
    assert count(since=(today - timedelta(days=41)).isoformat(), until=(today - timedelta(days=39)).isoformat()) == 1
    assert count(period=monday.isoformat(), interval="week") == 3
    assert count(period=today.replace(day=1).isoformat(), interval="month") == 3
    assert count(period=(monday - timedelta(weeks=1)).isoformat(), interval="week") == 0


@pytest.mark.parametrize("query, fields", [
    ({"since": "nope", "score": "99"}, ["since", "score"]),  # every problem at once
    ({"score": "ten", "band": "meh", "stage": "launch"}, ["score", "band", "stage"]),
    ({"channel": "fax"}, ["channel"]),
    ({"period": "2026-13-40", "interval": "week"}, ["period"]),
    ({"interval": "week"}, ["period"]),
    ({"since": "2026-11-02", "until": "2026-11-01"}, ["until"]),
])
def test_refusals_are_named_each_by_its_field_and_nothing_is_listed(app, survey, query, fields):
    page = signed_in(app, "designer").get("/console/responses", query_string={"survey": survey["id"], **query})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'class="error-summary"' in html
    assert ROW not in html and "data-total" not in html
    linked = re.findall(r'<a href="#(\w+)">', html.split('id="error-summary"')[1].split("</div>")[0])
    assert sorted(set(linked)) == sorted(fields)
    for field in fields:  # each link lands on its field, marked invalid and described by its message
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*{field}-error', html), field


def test_refusals_speak_the_readers_language(app, survey):
    viewer = signed_in(app, "agent")
    html = viewer.get("/console/responses", query_string={"survey": survey["id"], "score": "99", "until": "x"},
                      headers={"Accept-Language": "fa"}).get_data(as_text=True)
    assert 'dir="rtl"' in html and "امتیازی در مقیاس همین نظرسنجی وارد کنید." in html
    assert "Must be from" not in html  # the service's English is not shown


def test_an_unknown_or_missing_survey_is_a_404(app, survey):
    viewer = signed_in(app, "agent")
    for query in ({}, {"survey": "999999"}, {"survey": "x"}):
        assert viewer.get("/console/responses", query_string=query).status_code == 404


def test_paging_keeps_the_filters(api, client, app):
    made = create_survey(api, name="Many NPS", locales=["en"])
    create_trigger(api, made["id"])
    for number in range(52):
        survey_answer(api, client, 10 if number % 2 else 0, external_id=f"m-{number}")
    viewer = signed_in(app, "designer")
    first = viewer.get("/console/responses", query_string={"survey": made["id"], "band": "positive"})
    html = first.get_data(as_text=True)
    assert total(html) == 26 and html.count(ROW) == 26 and 'rel="next"' not in html
    every = viewer.get("/console/responses", query_string={"survey": made["id"]}).get_data(as_text=True)
    following = unescape(re.search(r'<a href="([^"]+)" rel="next">', every).group(1))
    assert "survey=" in following and "page=2" in following
    second = viewer.get(following).get_data(as_text=True)
    assert second.count(ROW) == 2 and 'rel="prev"' in second and "Page 2 of 2" in second
