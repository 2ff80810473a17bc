"""Dispatches over the API: one dispatch with its status history as it moves."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from surveyd.services.dispatch.sending import send_due
from tests.api.helpers import (
    answer,
    create_survey,
    create_trigger,
    error_of,
    fire,
    ok,
    snapshot,
)

ADDRESSES = {"phone": "+905321234567", "email": "ada@example.com", "telegram_chat_id": "777"}


def history(api, dispatch_id: int) -> list[tuple[str, str | None]]:
    body = ok(api.get(f"/dispatches/{dispatch_id}"), 200)
    return [(step["status"], step["reason"]) for step in body["history"]]


def run_sender(app, **kwargs) -> int:
    with app.app_context():
        from surveyd.extensions import db

        try:
            return send_due(**kwargs)
        finally:
            db.session.remove()


def test_web_dispatch_history_is_scheduled_then_sent(api, client):
    survey = create_survey(api, kind="nps", locales=["en"])
    trigger = create_trigger(api, survey["id"], channels=["web"])
    event = fire(api, external_id="cust-1")
    (planned,) = event["dispatches"]

    body = ok(api.get(f"/dispatches/{planned['id']}"), 200)

    assert body["id"] == planned["id"]
    assert body["event_id"] == event["id"]
    assert body["trigger_id"] == trigger["id"]
    assert body["survey_id"] == survey["id"]
    assert body["survey_version"] == 1
    assert body["contact"] == "cust-1"
    assert body["channel"] == "web"
    assert body["purpose"] == "invitation"
    assert body["status"] == "sent"
    assert body["reason"] is None
    assert body["locale"] == "en"
    assert body["scheduled_at"] == planned["scheduled_at"]
    assert body["sent_at"]
    assert datetime.fromisoformat(body["expires_at"]) > datetime.fromisoformat(body["scheduled_at"])
    assert [(s["status"], s["reason"]) for s in body["history"]] == [("scheduled", None), ("sent", None)]
    stamps = [s["at"] for s in body["history"]]
    assert stamps == sorted(stamps)

    answer(client, planned["url"], 10)
    assert history(api, planned["id"]) == [("scheduled", None), ("sent", None), ("answered", None)]
    assert ok(api.get(f"/dispatches/{planned['id']}"), 200)["status"] == "answered"


def test_sandbox_channels_go_scheduled_sending_sent_delivered(api, app):
    survey = create_survey(api, kind="csat", locales=["en"])
    for channel in ("sms", "email", "telegram"):
        create_trigger(api, survey["id"], channels=[channel])
    dispatches = fire(api, external_id="cust-1", contact=ADDRESSES)["dispatches"]
    assert [d["status"] for d in dispatches] == ["scheduled"] * 3
    for dispatch in dispatches:
        body = ok(api.get(f"/dispatches/{dispatch['id']}"), 200)
        assert body["status"] == "scheduled" and body["sent_at"] is None and body["attempts"] == 0
        assert history(api, dispatch["id"]) == [("scheduled", None)]

    assert run_sender(app) == 3

    for dispatch in dispatches:
        body = ok(api.get(f"/dispatches/{dispatch['id']}"), 200)
        assert body["status"] == "delivered", body
        assert body["attempts"] == 1
        assert body["sent_at"]
        # The sender's claim ("sending") may or may not be kept as a step; everything else is exact.
        steps = [s["status"] for s in body["history"]]
        assert [s for s in steps if s != "sending"] == ["scheduled", "sent", "delivered"], steps
        assert steps in (["scheduled", "sent", "delivered"], ["scheduled", "sending", "sent", "delivered"]), steps
        assert all(s["reason"] is None for s in body["history"])
    assert snapshot(app, "sandbox_messages")["sandbox_messages"] == 3
    # A second run finds nothing left to send.
    assert run_sender(app) == 0
    assert snapshot(app, "sandbox_messages")["sandbox_messages"] == 3


def test_delayed_dispatch_waits_until_due(api, app):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["sms"], delay_seconds=3600)
    (dispatch,) = fire(api, external_id="cust-1", contact=ADDRESSES)["dispatches"]

    assert run_sender(app) == 0
    assert ok(api.get(f"/dispatches/{dispatch['id']}"), 200)["status"] == "scheduled"

    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert run_sender(app, now=later) == 1
    assert ok(api.get(f"/dispatches/{dispatch['id']}"), 200)["status"] == "delivered"


def test_suppressed_dispatch_history_has_its_reason(api, app):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["telegram"])
    (dispatch,) = fire(api, external_id="cust-1")["dispatches"]
    body = ok(api.get(f"/dispatches/{dispatch['id']}"), 200)
    assert body["status"] == "suppressed" and body["reason"] == "no_address"
    assert history(api, dispatch["id"]) == [("suppressed", "no_address")]
    assert run_sender(app) == 0
    assert ok(api.get(f"/dispatches/{dispatch['id']}"), 200)["status"] == "suppressed"


def test_unknown_dispatch_is_404(api):
    error = error_of(api.get("/dispatches/123456"), 404)
    assert error["code"] == "not_found"
    assert api.get("/dispatches/not-a-number").status_code == 404


def test_expire_after_seconds_sets_the_link_lifetime(api, client):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["web"], delay_seconds=0, expire_after_seconds=3600)
    (planned,) = fire(api)["dispatches"]
    body = ok(api.get(f"/dispatches/{planned['id']}"), 200)
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["scheduled_at"])
    assert lifetime == timedelta(seconds=3600)
