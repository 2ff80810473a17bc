"""POST/GET/DELETE /webhook-endpoints and GET /webhook-endpoints/{id}/deliveries, as an integrator uses them."""
from __future__ import annotations

import re

import pytest

from bots.channel import SendResult
from surveyd.extensions import db
from surveyd.models import utcnow
from surveyd.services.design.survey_definitions import URL_REFUSALS
from surveyd.services.integrations import delivering
from tests.api.helpers import (
    check_each,
    create_survey,
    create_trigger,
    error_of,
    ok,
    raw_json,
    snapshot,
    survey_answer,
)

URL = "https://hooks.example.com/surveyd?token=abc"


def delete(api, path: str):
    return api.client.delete("/api/v1" + path, headers={"Authorization": f"Bearer {api.key}"})


def register(api, url: str = URL, events=("response.created",), **extra) -> dict:
    return ok(api.post("/webhook-endpoints", json={"url": url, "events": list(events), **extra}), 201)


class Answering:
    """Stands in for the receiver: answers every try with 200."""

    def send(self, message):
        return SendResult(provider_message_id=None, detail={"status": 200, "elapsed_ms": 12, "body": "ok"})


@pytest.fixture
def survey(api):
    survey = create_survey(api, locales=["en"])
    create_trigger(api, survey["id"])
    return survey


def test_registering_shows_the_secret_once_and_listing_never(api):
    created = register(api, events=["alert.created", "response.completed", "alert.created"])
    assert set(created) == {"id", "url", "events", "survey_ids", "secret", "created_at", "failing_since", "enabled",
                            "disabled_at", "disabled_reason"}
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", created["secret"])
    assert (created["url"], created["events"], created["survey_ids"]) == (URL, ["alert.created",
                                                                                "response.completed"], None)
    assert created["disabled_at"] is None and created["created_at"].endswith("+00:00")
    listing = api.get("/webhook-endpoints")
    (item,) = ok(listing, 200)["items"]
    assert "secret" not in item and created["secret"] not in listing.get_data(as_text=True)
    assert item["url"] == "https://hooks.example.com/surveyd?…"  # tokens travel in query strings
    one = api.get(f"/webhook-endpoints/{created['id']}")
    assert ok(one, 200) == item and created["secret"] not in one.get_data(as_text=True)


def test_an_endpoint_may_be_narrowed_to_surveys_that_exist(api, survey):
    assert register(api, survey_ids=[survey["id"]])["survey_ids"] == [survey["id"]]
    unknown = error_of(api.post("/webhook-endpoints", json={"url": URL, "events": ["response.created"],
                                                             "survey_ids": [survey["id"], 999]}), 422)
    assert unknown["fields"] == {"survey_ids": ["No survey has the id 999."]}
    assert "survey_ids" in error_of(api.post("/webhook-endpoints", json={
        "url": URL, "events": ["response.created"], "survey_ids": []}), 422)["fields"]


def test_urls_this_service_will_not_call_are_refused_with_a_clear_message(api, app):
    before = snapshot(app, "webhook_endpoints")

    def refused(url: str, code: str) -> None:
        error = error_of(api.post("/webhook-endpoints", json={"url": url, "events": ["alert.created"]}), 422)
        assert error["fields"] == {"url": [URL_REFUSALS[code]]}, error

    check_each([
        ("https://127.0.0.1/hook", "loopback"), ("https://localhost:8443/hook", "loopback"),
        ("https://[::1]/hook", "loopback"), ("https://2130706433/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"), ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"), ("https://[fe80::1]/hook", "link_local"),
        ("https://user:pw@hooks.example.com/hook", "credentials"), ("http://hooks.example.com/hook", "https_required"),
        ("ftp://hooks.example.com/hook", "scheme"),
    ], refused)
    assert snapshot(app, "webhook_endpoints") == before


def test_event_types_must_be_known_and_at_least_one(api):
    check_each([(["alert.escalated"],), ([],), (None,), (["response.created", "everything"],)], lambda events: (
        error_of(api.post("/webhook-endpoints", json={"url": URL, **({"events": events} if events is not None
                                                                      else {})}), 422)["fields"]["events"]))


def test_malformed_json_and_a_missing_key_are_refused_in_the_envelope(api, client):
    assert error_of(raw_json(api, "POST", "/webhook-endpoints", '{"url": '), 400)["code"] == "malformed_request"
    unauthorised = error_of(client.get("/api/v1/webhook-endpoints"), 401)
    assert unauthorised["code"] == "unauthorized"


def test_deleting_removes_the_endpoint_and_an_unknown_id_is_404(api):
    created = register(api)
    assert delete(api, f"/webhook-endpoints/{created['id']}").status_code == 204
    assert ok(api.get("/webhook-endpoints"), 200)["items"] == []
    for path in (f"/webhook-endpoints/{created['id']}", f"/webhook-endpoints/{created['id']}/deliveries"):
        assert error_of(api.get(path), 404)["code"] == "not_found"
    assert error_of(delete(api, f"/webhook-endpoints/{created['id']}"), 404)["code"] == "not_found"


def test_deliveries_are_listed_newest_first_with_their_tries_and_pages(api, client, app, survey):
    created = register(api)
    survey_answer(api, client, 9, external_id="first")
    survey_answer(api, client, 3, external_id="second")
    first_page = ok(api.get(f"/webhook-endpoints/{created['id']}/deliveries", query_string={"limit": 1}), 200)
    (newest,) = first_page["items"]
    assert newest["type"] == "response.created" and re.fullmatch(r"msg_[\w-]{24}", newest["webhook_id"])
    assert (newest["status"], newest["attempts"], newest["attempts_log"]) == ("scheduled", 0, [])
    assert newest["next_attempt_at"] and newest["delivered_at"] is None
    second_page = ok(api.get(f"/webhook-endpoints/{created['id']}/deliveries",
                             query_string={"limit": 1, "cursor": first_page["next_cursor"]}), 200)
    (oldest,) = second_page["items"]
    assert oldest["id"] < newest["id"] and second_page["next_cursor"] is None

    with app.app_context():
        assert delivering.send_one(oldest["id"], now=utcnow(), channel=Answering()).value == "delivered"
        db.session.remove()
    (_, sent) = ok(api.get(f"/webhook-endpoints/{created['id']}/deliveries"), 200)["items"]
    assert (sent["status"], sent["attempts"], sent["last_status"], sent["last_error"]) == ("delivered", 1, 200, None)
    assert sent["next_attempt_at"] is None and sent["delivered_at"]
    (attempt,) = sent["attempts_log"]
    assert set(attempt) == {"at", "status", "error", "elapsed_ms"} and (attempt["status"], attempt["elapsed_ms"]) == (
        200, 12)


def disabled_by_failures(app, endpoint_id: int) -> None:
    """Mark the endpoint as the delivery task does after 24 hours of failures."""
    from surveyd.models import WebhookEndpoint

    with app.app_context():
        row = db.session.get(WebhookEndpoint, endpoint_id)
        row.failing_since = row.disabled_at = utcnow()
        row.disabled_reason = "failing for 24 hours"
        db.session.commit()
        db.session.remove()


def test_the_endpoint_shows_why_it_was_disabled(api, app):
    created = register(api)
    disabled_by_failures(app, created["id"])
    shown = ok(api.get(f"/webhook-endpoints/{created['id']}"), 200)
    assert shown["disabled_reason"] == "failing for 24 hours" and shown["disabled_at"] and shown["failing_since"]


def patch(api, path: str, body):
    return api.client.patch("/api/v1" + path, json=body, headers={"Authorization": f"Bearer {api.key}"})


def test_a_disabled_endpoint_is_turned_back_on_and_events_reach_it_again(api, app, survey):
    from surveyd.services.integrations import publishing

    created = register(api)
    disabled_by_failures(app, created["id"])
    with app.app_context():
        assert publishing.publish("response.created", {"response_id": 1}, survey["id"]) == []
        db.session.rollback()
    shown = ok(patch(api, f"/webhook-endpoints/{created['id']}", {"enabled": True}), 200)
    assert (shown["enabled"], shown["disabled_at"], shown["disabled_reason"], shown["failing_since"]) == (
        True, None, None, None)
    with app.app_context():
        assert len(publishing.publish("response.created", {"response_id": 2}, survey["id"])) == 1
        db.session.commit()
        db.session.remove()


def test_an_endpoint_turned_off_by_hand_fails_what_waits_and_hears_nothing_more(api, app, survey):
    from surveyd.models import DeliveryStatus, WebhookDelivery
    from surveyd.services.integrations import publishing

    created = register(api)
    with app.app_context():
        (waiting,) = publishing.publish("response.created", {"response_id": 1}, survey["id"])
        db.session.commit()
        waiting_id = waiting.id
    shown = ok(patch(api, f"/webhook-endpoints/{created['id']}", {"enabled": False}), 200)
    assert (shown["enabled"], shown["disabled_reason"]) == (False, "disabled by API") and shown["disabled_at"]
    again = ok(patch(api, f"/webhook-endpoints/{created['id']}", {"enabled": False}), 200)
    assert again["disabled_at"] == shown["disabled_at"]  # turning off twice changes nothing
    with app.app_context():
        row = db.session.get(WebhookDelivery, waiting_id)
        assert row.status == DeliveryStatus.FAILED and row.last_error == "endpoint disabled: disabled by API"
        assert publishing.publish("response.created", {"response_id": 2}, survey["id"]) == []
        db.session.remove()


def test_a_bad_patch_changes_nothing(api):
    created = register(api)
    path = f"/webhook-endpoints/{created['id']}"
    assert error_of(raw_json(api, "PATCH", path, '{"enabled": '), 400)["code"] == "malformed_request"
    for body in ({}, {"enabled": "maybe"}, {"enabled": True, "url": "https://elsewhere.example"}):
        assert patch(api, path, body).status_code == 422, body
    assert error_of(patch(api, "/webhook-endpoints/999999", {"enabled": True}), 404)["code"] == "not_found"
    assert ok(api.get(path), 200)["enabled"] is True
