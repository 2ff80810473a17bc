"""The dispatch engine seen from outside: HTTP against `serve`'s embedded relay, SMS through the real
twilio SDK to a local fake Twilio that can fail, throttle and stall on demand.
"""
from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from surveyd import create_app
from tests.conftest import free_port, make_env
from tests.fakes.twilio_api import FakeTwilio
from tests.live import Outside, outside_client, quiesced, served, wait_until

_phones = itertools.count(100)


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def engine(database_url, tmp_path, twilio, app):
    """`serve` with its relay, SMS to the fake Twilio (limits off), email to the sandbox; yields an Outside client."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    live = create_app(make_env(
        database_url, SURVEYD_PUBLIC_URL=base, SURVEYD_SANDBOX="email,telegram",
        SURVEYD_TWILIO_ACCOUNT_SID=twilio.account_sid, SURVEYD_TWILIO_AUTH_TOKEN=twilio.auth_token,
        SURVEYD_TWILIO_FROM="+15005550006", SURVEYD_TWILIO_API_BASE=twilio.base_url, SURVEYD_TWILIO_RATE="0",
        SURVEYD_RELAY_POLL_SECONDS="0.1", SURVEYD_RETRY_BASE_SECONDS="0.2", SURVEYD_RETRY_MAX_SECONDS="1",
        SURVEYD_RECONCILE_AFTER_SECONDS="0.3", SURVEYD_SEND_TIMEOUT_SECONDS="1",
    ), instance_path=str(tmp_path))
    with served(live, port) as relay:
        outside = outside_client(live, base)
        outside.relay = relay
        survey = outside.post("/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["en", "tr", "fa"]})
        outside.survey_id = survey["id"]
        yield outside
        outside.session.close()


def _trigger(outside: Outside, **rule) -> dict:
    body = {"touchpoint": "order.delivered", "survey_id": outside.survey_id, "channels": ["sms"], **rule}
    return outside.post("/triggers", body)


def _phone() -> str:
    return f"+44770090{next(_phones):04d}"


def test_a_failed_sms_falls_back_to_email_and_the_opt_out_sticks(engine, twilio):
    _trigger(engine, channels=["sms", "email"])
    phone = _phone()
    twilio.unsubscribed.add(phone)  # the customer texted STOP to Twilio directly
    planned = engine.event(phone, email="ada@example.com")
    assert planned["channel"] == "sms" and planned["status"] == "scheduled"
    dispatch = engine.settled(planned["id"])
    assert (dispatch["channel"], dispatch["status"]) == ("email", "delivered")
    steps = [(s["status"], s["reason"], s["channel"]) for s in dispatch["history"]]
    assert ("failed", "opted_out", "sms") in steps and ("scheduled", "fallback", "email") in steps
    assert engine.get("/contacts/cust-1")["consent"]["sms"]["state"] == "opted_out"
    later = engine.event(external_id="cust-1")
    assert later["channel"] == "email"  # SMS is skipped from now on


def test_a_second_event_inside_throttle_days_is_suppressed_with_its_reason(engine, twilio):
    _trigger(engine, throttle_days=30)
    phone = _phone()
    first = engine.event(phone)
    second = engine.event(phone)
    assert (second["status"], second["reason"]) == ("suppressed", "throttled")
    assert engine.settled(first["id"])["status"] == "sent"
    quiesced(engine.relay)
    assert len(twilio.bodies_to(phone)) == 1
    assert engine.get(f"/dispatches/{second['id']}")["status"] == "suppressed"


def test_a_delayed_send_does_not_go_out_early(engine, twilio):
    _trigger(engine, delay_seconds=2)
    phone = _phone()
    planned = engine.event(phone)
    assert (planned["status"], planned["reason"]) == ("scheduled", "delayed")
    due = datetime.fromisoformat(planned["scheduled_at"])
    dispatch = engine.settled(planned["id"])
    assert dispatch["status"] == "sent"
    # Not early, by the fake's own receipt time on the same clock: however slow the machine, a send
    # before its due time would show here.
    (message,) = [m for m in twilio.messages if m["to"] == phone]
    assert message["received_wall"] >= due.timestamp()
    claimed = [s for s in dispatch["history"] if s["status"] == "sending"]
    assert claimed and all(datetime.fromisoformat(s["at"]) >= due for s in claimed)


def test_a_send_is_held_through_quiet_hours_in_the_contacts_zone(engine, twilio):
    local = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Tokyo"))
    end = (local + timedelta(hours=2)).replace(second=0, microsecond=0)
    _trigger(engine, quiet_hours={"start": (local - timedelta(hours=1)).strftime("%H:%M"), "end": end.strftime("%H:%M")})
    phone = _phone()
    planned = engine.event(phone, timezone="Asia/Tokyo")
    assert (planned["status"], planned["reason"]) == ("scheduled", "quiet_hours")
    assert datetime.fromisoformat(planned["scheduled_at"]) == end.astimezone(timezone.utc)
    quiesced(engine.relay)  # a whole relay pass saw the row, and held it
    assert twilio.bodies_to(phone) == []
    assert engine.get(f"/dispatches/{planned['id']}")["status"] == "scheduled"
    # The same rule does not hold a contact for whom it is daytime.
    other = engine.event(_phone(), external_id="elsewhere", timezone="America/Los_Angeles")
    assert "reason" not in other and engine.settled(other["id"])["status"] == "sent"


def test_concurrent_replays_of_one_event_make_one_dispatch_and_one_sms(engine, twilio):
    _trigger(engine)
    phone = _phone()
    body = {"touchpoint": "order.delivered", "contact": {"external_id": "cust-1", "phone": phone}}

    def post(_):
        return requests.post(engine.base + "/api/v1/events", json=body, timeout=10,
                             headers={"Authorization": engine.session.headers["Authorization"], "Idempotency-Key": "k-1"})

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(post, range(20)))
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    dispatch_id = answers[0].json()["dispatches"][0]["id"]
    assert engine.settled(dispatch_id)["status"] == "sent"
    quiesced(engine.relay)
    assert len(twilio.bodies_to(phone)) == 1
    assert [t["id"] for t in engine.get("/contacts/cust-1")["timeline"] if t["type"] == "dispatch"] == [dispatch_id]


def test_provider_errors_for_a_while_then_everything_is_delivered_once(engine, twilio):
    _trigger(engine)
    twilio.outage(500)
    planned = [engine.event(_phone(), external_id=f"c{n}") for n in range(20)]
    wait_until(lambda: twilio.refused(500) >= 20, what="20 sends refused in the outage")
    twilio.end_outage()
    settled = [engine.settled(p["id"]) for p in planned]
    assert {d["status"] for d in settled} == {"sent"}
    assert any(d["attempts"] > 1 for d in settled)  # the outage was really met
    assert all(d["provider_message_id"] for d in settled)
    phones = [m["to"] for m in twilio.messages]
    assert len(phones) == 20 == len(set(phones))  # each customer exactly once
    refused = [r for r in twilio.requests if r["status"] == 500]
    assert refused


def test_a_429_retry_after_is_honoured(engine, twilio):
    _trigger(engine)
    twilio.throttle_next(1, retry_after=2)
    phone = _phone()
    planned = engine.event(phone)
    dispatch = engine.settled(planned["id"])
    assert dispatch["status"] == "sent"
    attempts = twilio.requests
    assert [r["status"] for r in attempts] == [429, 201]
    assert attempts[1]["time"] - attempts[0]["time"] >= 2.0
    retry = [s for s in dispatch["history"] if s["reason"] == "retrying"][0]
    assert retry["detail"]["retry_after"] == 2


def test_an_answer_lost_on_the_way_back_is_reconciled_not_resent(engine, twilio):
    _trigger(engine)
    twilio.delay_after_store(1.6, n=1)  # Twilio takes the message, the reply comes after our 1 s timeout
    phone = _phone()
    planned = engine.event(phone)
    dispatch = engine.settled(planned["id"])
    assert dispatch["status"] == "sent" and dispatch["possible_duplicate"] is False
    steps = [(s["status"], s["reason"]) for s in dispatch["history"]]
    assert ("unknown", "ambiguous") in steps
    assert dispatch["history"][-1]["detail"].get("reconciled") is True
    assert len(twilio.bodies_to(phone)) == 1 and twilio.queries  # asked, not resent
