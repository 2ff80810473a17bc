"""Sentiment of comments: every free-text answer gets a label and a score, read off the answer's path (here by the
relay's sweep, which the test runs: the test client has no notifier threads), and a survey whose alert rule asks
(alert.sentiment) raises an alert with reason `sentiment` on a negatively worded comment, whatever the score."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert
from surveyd.services.answers import wording
from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    error_of,
    fire,
    ok,
    responses,
    web_dispatch,
)

NEGATIVE = {
    "en": "The courier was rude and the box arrived crushed. Never again.",
    "tr": "Kargo çok geç geldi, kutu ezilmişti ve kimse telefonlarıma dönmedi. Berbat bir deneyim.",
    "fa": "بسته خیلی دیر رسید و جعبه له شده بود. پشتیبانی هم جواب نداد، واقعا ناامید شدم.",
}
POSITIVE = {
    "en": "Arrived early and the courier was lovely, thank you!",
    "tr": "Her şey harikaydı, kurye çok nazikti. Teşekkürler!",
    "fa": "همه چیز عالی بود و خیلی زود رسید، ممنونم!",
}


def passive_answer(api, client, survey_id: int, comment: str, locale: str, external_id: str) -> None:
    """An NPS 8 (passive, above every alert threshold) with a comment on the question passives are asked."""
    body = fire(api, "order.delivered", external_id, contact={"locale": locale})
    answer(client, web_dispatch(body)["url"], 8, missing=comment)


def read_comments(app) -> int:
    """What the relay's sweep does every few seconds: label the comments waiting."""
    with app.app_context():
        done = wording.sweep()
        db.session.remove()
    return done


def alerts_of(app) -> list[Alert]:
    with app.app_context():
        found = db.session.scalars(sa.select(Alert).order_by(Alert.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return found


@pytest.mark.parametrize("locale", ["tr", "fa", "en"])
def test_a_negative_comment_on_a_passive_score_raises_an_alert_for_sentiment(api, client, app, locale):
    survey = create_survey(api, alert={"sentiment": True})
    assert survey["alert"]["sentiment"] is True
    create_trigger(api, survey["id"])
    passive_answer(api, client, survey["id"], NEGATIVE[locale], locale, "unhappy")
    passive_answer(api, client, survey["id"], POSITIVE[locale], locale, "happy")
    assert alerts_of(app) == []  # the answer is stored and acknowledged before its wording is read
    pending = {r["contact"]: r for r in responses(api, survey_id=survey["id"])}["unhappy"]["answers"]
    assert [a["sentiment"] for a in pending] == [None, None]

    assert read_comments(app) == 2
    assert read_comments(app) == 0  # read once
    raised = alerts_of(app)
    assert len(raised) == 1 and raised[0].reasons == ["sentiment"]
    shown = ok(api.get(f"/alerts/{raised[0].id}"), 200)
    assert shown["reasons"] == ["sentiment"]
    by_contact = {r["contact"]: r for r in responses(api, survey_id=survey["id"])}
    said = {a["question_id"]: a for a in by_contact["unhappy"]["answers"]}
    assert said["missing"]["sentiment"]["label"] == "negative" and said["missing"]["sentiment"]["score"] < 0
    assert said["score"]["sentiment"] is None  # a score has no wording
    happy = {a["question_id"]: a for a in by_contact["happy"]["answers"]}
    assert happy["missing"]["sentiment"]["label"] == "positive"


def test_without_the_rule_the_sentiment_is_stored_and_no_alert_is_raised(api, client, app):
    survey = create_survey(api)
    assert "sentiment" not in survey["alert"]
    create_trigger(api, survey["id"])
    passive_answer(api, client, survey["id"], NEGATIVE["tr"], "tr", "unhappy")
    assert read_comments(app) == 1
    assert alerts_of(app) == []
    (only,) = responses(api, survey_id=survey["id"])
    said = {a["question_id"]: a for a in only["answers"]}
    assert said["missing"]["sentiment"]["label"] == "negative"


def test_a_low_score_with_a_negative_comment_gives_both_reasons(api, client, app):
    survey = create_survey(api, alert={"sentiment": True})
    create_trigger(api, survey["id"])
    body = fire(api, "order.delivered", "angry", contact={"locale": "fa"})
    answer(client, web_dispatch(body)["url"], 2, improve=NEGATIVE["fa"])
    (raised,) = alerts_of(app)
    assert raised.reasons == ["score"]  # raised with the answer, at once
    read_comments(app)
    (raised,) = alerts_of(app)
    assert raised.reasons == ["score", "sentiment"]  # the wording adds its reason when it has been read


@pytest.mark.parametrize("value", ["yes", 1, None, [True]])
def test_alert_sentiment_must_be_a_boolean(api, value):
    before = ok(api.get("/surveys"), 200)
    error = error_of(api.post("/surveys", json={"name": "S", "kind": "nps", "locales": ["en"],
                                                "alert": {"sentiment": value}}), 422)
    assert "alert" in str(error)
    assert ok(api.get("/surveys"), 200) == before


def test_a_chosen_option_is_not_read_for_sentiment(api, client, app):
    survey = create_survey(api, kind="csat", locales=["en"], questions=[
        {"id": "score", "type": "scale", "text": {"en": "How satisfied are you?"}},
        {"id": "why", "type": "choice", "text": {"en": "What mattered most?"},
         "options": [{"id": "terrible_delay", "label": {"en": "Terrible delay"}},
                     {"id": "price", "label": {"en": "The price"}}]}])
    create_trigger(api, survey["id"])
    body = fire(api, "order.delivered", "chooser")
    answer(client, web_dispatch(body)["url"], 4, why="terrible_delay")
    assert read_comments(app) == 0
    (only,) = responses(api, survey_id=survey["id"])
    assert [a["sentiment"] for a in only["answers"]] == [None, None]
