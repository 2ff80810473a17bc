"""Outgoing webhooks seen from outside: a live `serve` delivers signed events to a local HTTP receiver, and the
Standard Webhooks reference library verifies every one of them."""
from __future__ import annotations

import json

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import WebhookEndpoint
from surveyd.services.integrations import delivering
from tests.conftest import free_port, make_env
from tests.fakes.http_receiver import HttpReceiver
from tests.live import outside_client, quiesced, served, wait_until


@pytest.fixture
def receiver():
    with HttpReceiver() as fake:
        yield fake


@pytest.fixture
def live(database_url, tmp_path, receiver, app):
    """`serve` that may call the receiver on 127.0.0.1; yields (client, app, relay)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    served_app = create_app(make_env(
        database_url, SURVEYD_PUBLIC_URL=base, SURVEYD_SANDBOX="0", SURVEYD_OUTBOUND_ALLOW_PRIVATE="1",
        SURVEYD_RELAY_POLL_SECONDS="0.1", SURVEYD_SEND_TIMEOUT_SECONDS="3",
    ), instance_path=str(tmp_path))
    with served(served_app, port) as relay:
        outside = outside_client(served_app, base)
        yield outside, served_app, relay
        outside.session.close()


def nps_survey(outside, notify: list[dict] | None = None) -> dict:
    """An NPS survey on the web channel for order.delivered; alerts to notify, if given."""
    survey = outside.post("/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["en"],
                                       **({"alert": {"notify": notify}} if notify else {})})
    outside.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["web"]})
    return survey


def answer_on_the_web(outside, score: int, external_id: str) -> None:
    """An event, then the customer's score on the survey page, as a browser posts it."""
    body = outside.post("/events", {"touchpoint": "order.delivered", "contact": {"external_id": external_id}},
                        status=202)
    assert requests.post(body["dispatches"][0]["url"], data={"score": str(score)}, timeout=10).status_code == 200


def verified(secret: str, request) -> dict:
    """The payload, once the reference implementation has checked its signature and timestamp."""
    return Webhook(secret).verify(request.body, request.headers)


def test_a_detractor_delivers_signed_response_and_alert_events(live, receiver):
    outside, _, relay = live
    survey = nps_survey(outside)
    endpoint = outside.post("/webhook-endpoints", {"url": f"{receiver.base_url}/hooks",
                                                   "events": ["alert.created", "response.created"]})
    answer_on_the_web(outside, 2, "ayse")
    wait_until(lambda: len(receiver.requests) >= 2, what="two deliveries")
    quiesced(relay)
    payloads = {p["type"]: p for p in (verified(endpoint["secret"], r) for r in receiver.requests)}
    assert sorted(payloads) == ["alert.created", "response.created"] and len(receiver.requests) == 2
    (alert,) = outside.get("/alerts")["items"]
    assert payloads["alert.created"]["data"]["alert_id"] == alert["id"]
    assert (payloads["response.created"]["data"]["survey_id"], payloads["response.created"]["data"]["score"]) == (
        survey["id"], 2)
    assert {r.path for r in receiver.requests} == {"/hooks"}
    deliveries = outside.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")["items"]
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 1)] * 2


def test_a_receiver_that_fails_twice_gets_three_tries_of_one_message(live, receiver, monkeypatch):
    outside, _, relay = live
    # The schedule compressed (5 s, 5 min, ... in production); the service tests drive the real one by `now`.
    monkeypatch.setattr(delivering, "RETRY_SCHEDULE", (0.2,) * 9)
    nps_survey(outside)
    endpoint = outside.post("/webhook-endpoints", {"url": f"{receiver.base_url}/hooks",
                                                   "events": ["response.created"]})
    receiver.answer(500, body="oops")
    receiver.answer(500, body="still down")
    answer_on_the_web(outside, 9, "happy")
    delivered = wait_until(lambda: [d for d in outside.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")["items"]
                                    if d["status"] == "delivered"], what="the delivery after two failures")
    quiesced(relay)
    tries = receiver.requests
    assert len(tries) == 3 and len({r.headers["webhook-id"] for r in tries}) == 1 and len({r.body for r in tries}) == 1
    for request in tries:
        assert verified(endpoint["secret"], request)["type"] == "response.created"
    (delivery,) = delivered
    assert delivery["webhook_id"] == tries[0].headers["webhook-id"]
    assert [a["status"] for a in delivery["attempts_log"]] == [500, 500, 200] and delivery["attempts"] == 3


def test_a_410_disables_the_endpoint(live, receiver):
    outside, _, relay = live
    nps_survey(outside)
    endpoint = outside.post("/webhook-endpoints", {"url": f"{receiver.base_url}/hooks",
                                                   "events": ["response.created"]})
    receiver.answer(410, body="no such hook")
    answer_on_the_web(outside, 9, "first")
    shown = wait_until(lambda: (e := outside.get(f"/webhook-endpoints/{endpoint['id']}"))["disabled_at"] and e,
                       what="the endpoint disabled")
    assert shown["disabled_reason"] == "gone"
    answer_on_the_web(outside, 8, "second")  # its commit would have written a delivery, were the endpoint enabled
    quiesced(relay)
    (delivery,) = outside.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")["items"]
    assert (delivery["status"], delivery["last_status"]) == ("failed", 410) and len(receiver.requests) == 1


def test_a_webhook_notify_target_gets_an_endpoint_of_its_own_and_a_signed_alert(live, receiver):
    outside, app, relay = live
    nps_survey(outside, notify=[{"channel": "webhook", "url": f"{receiver.base_url}/alerts"}])
    answer_on_the_web(outside, 1, "cross")
    assert receiver.wait_for_requests(1, timeout=20)
    quiesced(relay)
    (endpoint,) = outside.get("/webhook-endpoints")["items"]
    assert (endpoint["url"], endpoint["events"], endpoint["survey_ids"]) == (
        f"{receiver.base_url}/alerts", ["alert.created"], [])
    with app.app_context():
        secret = db.session.get(WebhookEndpoint, endpoint["id"]).secret  # made on first use: read where it is kept
        db.session.remove()
    (request,) = receiver.requests
    payload = verified(secret, request)
    (alert,) = outside.get("/alerts")["items"]
    assert (payload["type"], payload["data"]["alert_id"], payload["data"]["score"]) == ("alert.created",
                                                                                       alert["id"], 1)
    assert json.loads(request.body) == payload
