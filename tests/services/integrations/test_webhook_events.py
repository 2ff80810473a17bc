"""Which use cases publish which events, in their own transactions: answers, alerts (subscribed endpoints and a
survey's webhook notify targets), agents' changes, failed dispatches and opt-outs."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Channel,
    ConsentState,
    Dispatch,
    DispatchStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from surveyd.services.audience import contacts
from surveyd.services.dispatch import planning
from surveyd.services.integrations import endpoints
from tests.api.helpers import (
    create_survey,
    create_trigger,
    fire,
    ok,
    page_path,
    web_dispatch,
)

URL = "https://hooks.example.com/surveyd"
NOTIFY_URL = "https://alerts.example.com/in"


def published(app, event_type: str | None = None) -> list[WebhookDelivery]:
    """The deliveries written so far (of one type), oldest first, read in a context of their own."""
    with app.app_context():
        query = sa.select(WebhookDelivery).order_by(WebhookDelivery.id)
        if event_type:
            query = query.where(WebhookDelivery.event_type == event_type)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        db.session.remove()
        return rows


def register(app, events: list[str], url: str = URL) -> int:
    with app.app_context():
        endpoint_id = endpoints.create_endpoint(url, events).id
        db.session.remove()
        return endpoint_id


@pytest.fixture
def survey(api):
    survey = create_survey(api, locales=["en"], alert={"notify": [
        {"channel": "webhook", "url": NOTIFY_URL},
        {"channel": "webhook", "url": NOTIFY_URL + "/refunds", "when": {"keywords": ["refund"]}}]})
    create_trigger(api, survey["id"])
    return survey


def answer(api, client, score: int, external_id: str = "cust-1") -> str:
    """An event, then the score on the survey page; the page's path."""
    path = page_path(web_dispatch(fire(api, external_id=external_id))["url"])
    assert client.post(path, data={"score": str(score)}).status_code == 200
    return path


def test_a_score_publishes_response_created_and_the_follow_up_response_completed(api, client, app, survey):
    register(app, ["response.created", "response.completed"])
    path = answer(api, client, 9)
    (created,) = published(app)
    data = created.payload["data"]
    assert created.event_type == "response.created" and data["completed"] is False
    assert (data["survey_id"], data["score"], data["band"], data["contact"]) == (survey["id"], 9, "positive", "cust-1")
    client.post(path, data={"liked": "Fast delivery"})
    client.post(path, data={"liked": "again"})  # a repeat changes nothing and publishes nothing
    (completed,) = published(app, "response.completed")
    assert completed.payload["data"]["completed"] is True
    assert [a["value"] for a in completed.payload["data"]["answers"]] == [9, "Fast delivery"]


def test_a_detractor_publishes_alert_created_once_to_subscribers_and_each_passing_webhook_target(api, client, app,
                                                                                                survey):
    subscriber = register(app, ["alert.created"])
    path = answer(api, client, 2)
    client.post(path, data={"improve": "Broken box"})  # a comment without the keyword: nothing more
    alerts = published(app, "alert.created")
    with app.app_context():
        made = db.session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.url == NOTIFY_URL))
        assert (made.events, made.survey_ids) == (["alert.created"], [])
        assert sorted(row.endpoint_id for row in alerts) == sorted([subscriber, made.id])
    (alert,) = ok(api.get("/alerts"), 200)["items"]
    data = alerts[0].payload["data"]
    assert (data["alert_id"], data["event"], data["score"], data["survey_name"]) == (alert["id"], "created", 2,
                                                                                      survey["name"])
    answer(api, client, 10, external_id="happy")
    assert len(published(app, "alert.created")) == 2


def test_a_later_comment_with_its_keyword_brings_in_the_target_that_waited_for_it(api, client, app, survey):
    path = answer(api, client, 3)
    assert len(published(app, "alert.created")) == 1
    client.post(path, data={"improve": "I want a refund"})
    urls = []
    with app.app_context():
        for row in published(app, "alert.created"):
            urls.append(db.session.get(WebhookEndpoint, row.endpoint_id).url)
    assert urls == [NOTIFY_URL, NOTIFY_URL + "/refunds"]
    assert "refund" in published(app, "alert.created")[1].payload["data"]["comments"][0]


def test_an_agents_change_publishes_alert_updated_and_a_no_op_nothing(api, client, app, survey):
    register(app, ["alert.updated"])
    answer(api, client, 1)
    (alert,) = ok(api.get("/alerts"), 200)["items"]
    ok(api.patch(f"/alerts/{alert['id']}", json={"status": "claimed", "assignee": "ana@example.com"}), 200)
    ok(api.patch(f"/alerts/{alert['id']}", json={"status": "claimed"}), 200)
    (updated,) = published(app, "alert.updated")
    data = updated.payload["data"]
    assert (data["alert_id"], data["status"], data["assignee"]) == (alert["id"], "claimed", "ana@example.com")
    assert data["changed"] == ["status", "assignee"]


def test_a_failed_dispatch_publishes_dispatch_failed(api, app, survey):
    register(app, ["dispatch.failed"])
    body = fire(api, external_id="cust-9")
    with app.app_context():
        dispatch = db.session.get(Dispatch, body["dispatches"][0]["id"])
        planning.record_status(dispatch, DispatchStatus.SENT)
        planning.record_status(dispatch, DispatchStatus.FAILED, "provider_error", {"error": "HTTP 500"})
        db.session.commit()
        db.session.remove()
    (failed,) = published(app)
    assert failed.event_type == "dispatch.failed"
    assert failed.payload["data"].items() >= {"dispatch_id": body["dispatches"][0]["id"], "survey_id": survey["id"],
                                              "contact": "cust-9", "channel": "web", "reason": "provider_error",
                                              "error": "HTTP 500"}.items()


def test_an_opt_out_publishes_contact_opted_out_once(app, ctx):
    register(app, ["contact.opted_out"])
    contact, _ = contacts.put_contact("cust-5", {"email": "five@example.com"})
    contacts.set_consent(contact, Channel.EMAIL, ConsentState.OPTED_OUT, "unsubscribe_link")
    contacts.set_consent(contact, Channel.EMAIL, ConsentState.OPTED_OUT, "unsubscribe_link")  # no change
    contacts.set_consent(contact, Channel.SMS, ConsentState.OPTED_IN, "api")
    db.session.commit()
    (opted_out,) = published(app)
    assert opted_out.payload["data"] | {"at": None} == {"contact": "cust-5", "channel": "email",
                                                          "source": "unsubscribe_link", "at": None}
    assert opted_out.payload["data"]["at"].endswith("Z")
