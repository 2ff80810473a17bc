"""The dashboard's figures and the responses behind them: every chart point, bar and table row links to a
drill-down that finds exactly as many answers as the figure counted; the response rate; refusals."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Response, utcnow
from tests.api.helpers import create_survey, create_trigger, fire, ok, survey_answer
from tests.console.staff import signed_in

LINK = re.compile(r'<a href="(/console/responses\?[^"]+)" data-n="(\d+)"')


@pytest.fixture
def answered(api, client, app):
    """An NPS survey asked at two touchpoints in two journey stages, answers over three months, and a CSAT one."""
    nps = create_survey(api, name="Delivery NPS", locales=["en"])
    ok(api.put("/touchpoints/order.delivered", json={"stage": "post_purchase"}), 201)
    for touchpoint in ("order.delivered", "ticket.closed"):
        create_trigger(api, nps["id"], touchpoint=touchpoint, channels=["web"])
    scores = [(0, "order.delivered"), (3, "order.delivered"), (6, "ticket.closed"), (7, "order.delivered"),
              (9, "ticket.closed"), (10, "order.delivered"), (10, "order.delivered")]
    for number, (score, touchpoint) in enumerate(scores):
        survey_answer(api, client, score, external_id=f"c-{number}", touchpoint=touchpoint)
    fire(api, "order.delivered", "no-answer")  # sent, never answered: lowers the response rate
    survey_answer(api, client, 2, external_id="old-1")
    survey_answer(api, client, 8, external_id="old-2")
    with app.app_context():  # two answers from six weeks ago: in the trend, not in the 30-day figures
        ids = db.session.scalars(sa.select(Response.id).order_by(Response.id.desc()).limit(2)).all()
        db.session.execute(sa.update(Response).where(Response.id.in_(ids))
                           .values(created_at=utcnow() - timedelta(weeks=6)))
        db.session.commit()
        db.session.remove()
    csat = create_survey(api, name="Support CSAT", kind="csat", locales=["en"])
    create_trigger(api, csat["id"], touchpoint="chat.ended", channels=["web"])
    survey_answer(api, client, 5, external_id="d-1", touchpoint="chat.ended")
    return nps, csat


def test_every_figure_opens_exactly_the_answers_it_counts(app, api, client, answered):
    viewer = signed_in(app, "agent")
    page = viewer.get("/console/").get_data(as_text=True)
    links = [(unescape(href), int(n)) for href, n in LINK.findall(page)]
    survey_answer(api, client, 0, external_id="later")  # an answer after the page was drawn changes no link's count
    # Per survey: the n, trend points and their table rows, 11 + 5 bars and table rows, bands, touchpoints, stages.
    assert len(links) >= 60, len(links)
    assert len({href for href, _ in links}) >= 30  # NPS: 1 + 3 weeks + 11 scores + 3 bands + 2 + 2; CSAT: 12
    for href, n in links:
        found = viewer.get(href)
        assert found.status_code == 200, href
        html = found.get_data(as_text=True)
        total = int(re.search(r'data-total="(\d+)"', html).group(1))
        assert total == n, (href, n, total)
        assert html.count('<tr class="response-row">') == min(n, 50), href


def test_the_dashboard_shows_the_distribution_rate_and_breakdowns(app, answered):
    nps, _ = answered
    page = signed_in(app, "designer").get("/console/").get_data(as_text=True)
    assert "Scores given, last 30 days" in page and 'aria-label="Score 10: 2 answers"' in page
    assert "Delivery NPS per touchpoint" in page and "Delivery NPS per journey stage" in page
    assert ">After purchase</a>" in page and ">Support</a>" in page  # ticket.closed's stage is guessed from its key
    # 10 invitations went out in the last 30 days (the two old answers' invitations too); 9 were answered.
    assert "90% (9 of 10 sent)" in page
    rows = re.search(r'<tr>\s*<th scope="row"><a href="#survey-%d">Delivery NPS</a>.*?</tr>' % nps["id"], page, re.S)
    assert rows and 'data-n="7"' in rows.group(0)


def test_a_drill_down_pages_through_many_answers(api, client, app):
    survey = create_survey(api, name="Busy NPS", locales=["en"])
    create_trigger(api, survey["id"], channels=["web"])
    for number in range(53):
        survey_answer(api, client, number % 11, external_id=f"busy-{number}")
    viewer = signed_in(app, "designer")
    first = viewer.get("/console/responses", query_string={"survey": survey["id"]}).get_data(as_text=True)
    assert 'data-total="53"' in first and first.count('<tr class="response-row">') == 50
    older = re.search(r'<a href="([^"]+)" rel="next">', first).group(1)
    second = viewer.get(unescape(older)).get_data(as_text=True)
    assert second.count('<tr class="response-row">') == 3 and "Page 2 of 2" in second


@pytest.mark.parametrize("query, status", [
    ({}, 404),
    ({"survey": "999999"}, 404),
    ({"survey": "abc"}, 404),
    ({"score": "ten"}, 400),
    ({"score": "11"}, 400),
    ({"band": "meh"}, 400),
    ({"stage": "launch"}, 400),
    ({"channel": "fax"}, 400),
    ({"period": "2026-11-02"}, 400),
    ({"period": "2026-11-02", "interval": "fortnight"}, 400),
    ({"period": "not a day", "interval": "week"}, 400),
    ({"since": "yesterday"}, 400),
    ({"since": "2026-11-02T00:00", "until": "2026-11-01T00:00"}, 400),
])
def test_a_drill_down_refuses_what_names_no_answers(api, app, query, status):
    survey = create_survey(api, name="Refusing NPS", locales=["en"])
    if "survey" not in query and status == 400:
        query = {"survey": str(survey["id"]), **query}
    response = signed_in(app, "agent").get("/console/responses", query_string=query)
    assert response.status_code == status
    if status == 400:
        assert 'class="error-summary"' in response.get_data(as_text=True)


def test_designers_download_a_surveys_answers_and_agents_cannot(app, answered):
    nps, _ = answered
    designer = signed_in(app, "designer")
    page = designer.get("/console/responses", query_string={"survey": nps["id"], "band": "negative"})
    link = unescape(re.search(r'<a href="(/console/responses/export\?[^"]*format=csv[^"]*)" download>',
                              page.get_data(as_text=True)).group(1))
    download = designer.get(link)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    lines = download.get_data().decode("utf-8").lstrip("\ufeff").strip().splitlines()
    assert len(lines) == 1 + 9  # the header and every answer of the survey, whatever the band
    assert designer.get(link.replace("format=csv", "format=xlsx")).data[:2] == b"PK"
    for bad in ({"survey": "999999"}, {"survey": nps["id"], "format": "pdf"}, {"survey": nps["id"], "since": "soon"},
                {"survey": nps["id"], "since": "2026-02-01T00:00", "until": "2026-01-01T00:00"}):
        assert designer.get("/console/responses/export", query_string=bad).status_code in (400, 404)
    agent = signed_in(app, "agent")
    assert agent.get(link).status_code == 403
    assert "/console/responses/export" not in agent.get("/console/responses", query_string={
        "survey": nps["id"]}).get_data(as_text=True)


def test_a_touchpoint_that_clearly_differs_from_the_whole_is_marked(api, client, app):
    survey = create_survey(api, name="Marked CSAT", kind="csat", locales=["en"])
    create_trigger(api, survey["id"], touchpoint="store.visit")
    create_trigger(api, survey["id"], touchpoint="call.ended")
    for number in range(12):
        survey_answer(api, client, 5, external_id=f"s-{number}", touchpoint="store.visit")
        survey_answer(api, client, 1, external_id=f"c-{number}", touchpoint="call.ended")
    page = signed_in(app, "designer").get("/console/").get_data(as_text=True)
    rows = re.findall(r'<code class="key">([\w.]+)</code></a></th>.*?<td>(.*?)</td></tr>', page, re.S)
    assert ("store.visit", "<strong>clearly higher</strong>") in rows
    assert ("call.ended", "<strong>clearly lower</strong>") in rows


def test_each_score_is_set_against_the_period_before_and_a_clear_change_is_named(api, client, app):
    survey = create_survey(api, name="Moving CSAT", kind="csat", locales=["en"])
    create_trigger(api, survey["id"])
    for number in range(15):
        survey_answer(api, client, 1, external_id=f"before-{number}")
    with app.app_context():  # the first 15 answers were given 40 days ago: the 30 days before the figure
        db.session.execute(sa.update(Response).values(created_at=utcnow() - timedelta(days=40)))
        db.session.commit()
        db.session.remove()
    for number in range(15):
        survey_answer(api, client, 5, external_id=f"now-{number}")
    page = signed_in(app, "agent").get("/console/").get_data(as_text=True)
    row = re.search(r'<a href="#survey-\d+">Moving CSAT</a></th>(.*?)</tr>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1] == "100.0" and cells[4] == "0.0"  # now, and the 30 days before
    assert cells[5] == "+100.0 clearly up"


def test_root_causes_of_resolved_alerts_show_per_touchpoint(api, client, app):
    from surveyd.services.alerts import handling

    survey = create_survey(api, name="Causes CSAT", kind="csat", locales=["en"])
    for touchpoint in ("order.delivered", "refund.paid"):
        create_trigger(api, survey["id"], touchpoint=touchpoint)
    for number, (touchpoint, cause) in enumerate([("order.delivered", "delivery"), ("order.delivered", "delivery"),
                                                  ("refund.paid", "billing"), ("refund.paid", None)]):
        survey_answer(api, client, 1, external_id=f"x-{number}", touchpoint=touchpoint)
        if cause:
            with app.app_context():
                from surveyd.models import Alert
                alert_id = db.session.scalar(sa.select(sa.func.max(Alert.id)))
                handling.resolve_alert(alert_id, cause, "called back", "user:agent@shop.test")
                db.session.remove()
    page = signed_in(app, "agent").get("/console/").get_data(as_text=True)
    table = re.search(r"Causes CSAT: why, root causes.*?</table>", page, re.S).group(0)
    rows = re.findall(r'<code class="key">([\w.]+)</code></th>\s*<td class="num">(\d+)</td>\s*<td>(.*?)</td>', table)
    assert rows == [("order.delivered", "2", "delivery (2)"), ("refund.paid", "1", "billing (1)")]


def test_goals_show_with_their_verdict(api, client, app):
    survey = create_survey(api, name="Goal CSAT", kind="csat", locales=["en"])
    create_trigger(api, survey["id"])
    survey_answer(api, client, 5)
    by = (utcnow() + timedelta(days=90)).date().isoformat()
    ok(api.post("/goals", json={"name": "CSAT 90 by summer", "survey_id": survey["id"], "target": 90, "by": by}), 201)
    page = signed_in(app, "agent").get("/console/").get_data(as_text=True)
    row = re.search(r'<th scope="row" dir="auto">CSAT 90 by summer</th>(.*?)</tr>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == ["Goal CSAT", "100.0", "1", "90.0", by, "At risk (too few answers to judge)"]


def test_the_funnel_counts_the_invitations_of_the_period_per_channel(api, client, app):
    survey = create_survey(api, name="Funnel CSAT", kind="csat", locales=["en"])
    create_trigger(api, survey["id"], touchpoint="order.delivered", channels=["web"])
    create_trigger(api, survey["id"], touchpoint="ticket.closed", channels=["sms"])
    for number in range(3):
        survey_answer(api, client, 5, external_id=f"w-{number}")
    fire(api, "order.delivered", "never-opened")
    fire(api, "ticket.closed", "no-phone")  # suppressed: nobody to text
    page = signed_in(app, "agent").get("/console/").get_data(as_text=True)
    table = re.search(r"Funnel CSAT: how far the invitations.*?</table>", page, re.S).group(0)
    rows = {re.sub(r"<[^>]+>", "", head).strip(): [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
            for head, cells in ((m.group(1), re.findall(r"<td[^>]*>(.*?)</td>", m.group(2), re.S))
                                for m in re.finditer(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.S))}
    # Answered by posting the page straight away, never shown: answered and so delivered, not opened; the
    # follow-up question was left unanswered, so not completed.
    assert rows["web page"][:7] == ["4", "0", "4", "3", "0", "3", "0"]
    assert rows["SMS"][:7] == ["1", "1", "0", "0", "0", "0", "0"]
    assert rows["All channels"][:7] == ["5", "1", "4", "3", "0", "3", "0"]
    assert rows["All channels"][7] == "75.0%"


def test_the_journey_shows_each_stage_in_order_with_its_scores(app, answered):
    page = signed_in(app, "agent").get("/console/").get_data(as_text=True)
    table = re.search(r"Journey stages, last 30 days.*?</table>", page, re.S).group(0)
    rows = re.findall(r'<th scope="row">(.*?)</th>(.*?)</tr>', table, re.S)
    assert [name for name, _ in rows] == ["Awareness", "Consideration", "Purchase", "After purchase", "Support"]
    after = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", rows[3][1], re.S)]
    assert after[0].endswith("(n = 5)") and after[1:] == ["–", "–"]  # NPS at order.delivered in the last 30 days
