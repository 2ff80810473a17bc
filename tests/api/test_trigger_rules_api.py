"""Trigger rules as an integrator sees them: every decision not to send, or to send later, has its reason."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from surveyd import create_app
from tests.api.helpers import count_rows, create_survey, create_trigger, error_of, fire, new_key, ok, post_event
from tests.conftest import ApiClient, make_env


def _only(body: dict) -> dict:
    assert len(body["dispatches"]) == 1, body
    return body["dispatches"][0]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def nps(api):
    return create_survey(api)["id"]


COMPLAINT = {"field": "contact.open_complaint", "op": "not_equals", "value": True}


def test_a_condition_suppresses_while_a_complaint_is_open(api, nps):
    create_trigger(api, nps, conditions=[COMPLAINT, {"field": "event.total", "op": "gte", "value": 50}])
    blocked = _only(fire(api, contact={"attributes": {"open_complaint": True}}, attributes={"total": 80}))
    assert (blocked["status"], blocked["reason"]) == ("suppressed", "condition")
    detail = ok(api.get(f"/dispatches/{blocked['id']}"), 200)["history"][-1]["detail"]
    assert detail["condition"] == COMPLAINT  # staff can see which rule said no
    small = _only(fire(api, contact={"attributes": {"open_complaint": False}}, attributes={"total": "20"}))
    assert small["reason"] == "condition"
    sent = _only(fire(api, contact={"attributes": {"open_complaint": False}}, attributes={"total": "120.5"}))
    assert sent["status"] == "sent" and "reason" not in sent and sent["url"]


def test_sampling_zero_asks_nobody_and_one_asks_everybody(api, nps):
    create_trigger(api, nps, sample_rate=0.0)
    create_trigger(api, nps, sample_rate=1.0, touchpoint="ticket.closed")
    assert _only(fire(api))["reason"] == "sampled_out"
    assert _only(fire(api, "ticket.closed"))["status"] == "sent"


def test_sampling_half_asks_about_half(api, nps):
    create_trigger(api, nps, sample_rate=0.5)
    outcomes = [_only(fire(api, external_id=f"c{n}"))["status"] for n in range(200)]
    assert 70 <= outcomes.count("sent") <= 130


def test_throttle_days_spans_surveys_and_channels(api, nps):
    csat = create_survey(api, name="Support CSAT", kind="csat")["id"]
    create_trigger(api, nps, channels=["email"], throttle_days=30)
    create_trigger(api, csat, touchpoint="ticket.closed", channels=["web"], throttle_days=30)
    first = _only(fire(api, contact={"email": "a@example.com"}))
    assert first["status"] == "scheduled" and "reason" not in first
    second = _only(fire(api, "ticket.closed"))
    assert (second["status"], second["reason"]) == ("suppressed", "throttled")
    assert "url" not in second
    detail = ok(api.get(f"/dispatches/{second['id']}"), 200)["history"][-1]["detail"]
    assert detail == {"throttle_days": 30, "previous_dispatch_id": first["id"]}
    assert _only(fire(api, "ticket.closed", external_id="someone-else"))["status"] == "sent"


def test_suppressed_asks_do_not_count_towards_the_throttle(api, nps):
    create_trigger(api, nps, channels=["sms"], throttle_days=30)
    assert _only(fire(api))["reason"] == "no_address"
    assert _only(fire(api, contact={"phone": "+447700900123"}))["status"] == "scheduled"


def test_throttle_zero_is_off(api, nps):
    create_trigger(api, nps, throttle_days=0)
    assert [_only(fire(api))["status"] for _ in range(3)] == ["sent"] * 3


def test_the_global_throttle_applies_unless_the_trigger_overrides_it(database_url, tmp_path, api_key, nps, api):
    create_trigger(api, nps)
    create_trigger(api, nps, touchpoint="visit.ended", throttle_days=0)
    throttled_app = create_app(make_env(database_url, SURVEYD_THROTTLE_DAYS="30"), instance_path=str(tmp_path))
    other = ApiClient(throttled_app.test_client(), api_key)
    assert _only(fire(other))["status"] == "sent"
    assert _only(fire(other))["reason"] == "throttled"
    assert _only(fire(other, "visit.ended"))["status"] == "sent"  # the trigger said 0: off


def test_quiet_hours_hold_the_send_to_the_end_of_the_window_in_the_contacts_zone(api, nps):
    zone = ZoneInfo("America/New_York")
    local_now = datetime.now(timezone.utc).astimezone(zone)
    start = (local_now - timedelta(hours=1)).strftime("%H:%M")
    end_local = (local_now + timedelta(hours=3)).replace(second=0, microsecond=0)
    create_trigger(api, nps, channels=["sms"], quiet_hours={"start": start, "end": end_local.strftime("%H:%M")})
    held = _only(fire(api, contact={"phone": "+12125550123", "timezone": "America/New_York"}))
    assert (held["status"], held["reason"]) == ("scheduled", "quiet_hours")
    assert _at(held["scheduled_at"]) == end_local.astimezone(timezone.utc)
    dispatch = ok(api.get(f"/dispatches/{held['id']}"), 200)
    assert dispatch["history"][-1]["detail"]["timezone"] == "America/New_York"
    # It keeps its whole answering time once it goes out.
    assert _at(dispatch["expires_at"]) - _at(dispatch["scheduled_at"]) == timedelta(days=14)


def test_quiet_hours_follow_each_contacts_own_zone(api, nps):
    tehran_now = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Tehran"))
    window = {"start": (tehran_now - timedelta(hours=1)).strftime("%H:%M"),
              "end": (tehran_now + timedelta(hours=1)).strftime("%H:%M")}
    create_trigger(api, nps, channels=["sms"], quiet_hours=window)
    in_tehran = _only(fire(api, "order.delivered", "t", contact={"phone": "+989121234567", "timezone": "Asia/Tehran"}))
    # Twelve and a half hours away the same clock times are not quiet now.
    in_honolulu = _only(fire(api, "order.delivered", "h", contact={"phone": "+18085550123", "timezone": "Pacific/Honolulu"}))
    assert in_tehran["reason"] == "quiet_hours" and "reason" not in in_honolulu


def test_a_delay_is_a_reason_to_send_later(api, nps):
    create_trigger(api, nps, channels=["email"], delay_seconds=3600)
    before = datetime.now(timezone.utc)
    later = _only(fire(api, contact={"email": "a@example.com"}))
    assert (later["status"], later["reason"]) == ("scheduled", "delayed")
    assert _at(later["scheduled_at"]) >= before + timedelta(seconds=3599)


def test_opted_out_and_no_address_are_reasons(api, nps):
    create_trigger(api, nps, channels=["sms", "email"])
    assert _only(fire(api))["reason"] == "no_address"
    ok(api.put("/contacts/cust-1", json={"phone": "+447700900123", "consent": {"sms": "opted_out"}}), 200)
    assert _only(fire(api))["reason"] == "opted_out"
    body = fire(api, contact={"email": "a@example.com"})
    assert (_only(body)["channel"], _only(body)["status"]) == ("email", "scheduled")


def test_a_reminder_and_fallback_fields_show_on_the_dispatch(api, nps):
    create_trigger(api, nps, channels=["sms", "email"], reminder={"after_seconds": 86400, "channel": "email"})
    planned = _only(fire(api, contact={"phone": "+447700900123"}))
    shown = ok(api.get(f"/dispatches/{planned['id']}"), 200)
    assert shown["purpose"] == "invitation" and shown["reminder_of"] is None
    assert shown["possible_duplicate"] is False and shown["history"][0]["channel"] == "sms"


@pytest.mark.parametrize("condition, field_error", [
    ({"field": "event.total", "op": "gt", "value": "ten"}, "number"),
    ({"field": "event.tier", "op": "in", "value": "gold"}, "list"),
    ({"field": "event.tier", "op": "equals"}, "value"),
    ({"field": "order.total", "op": "equals", "value": 1}, "event."),
    ({"field": "event.total", "op": "between", "value": 1}, "Must be one of"),
])
def test_a_bad_condition_is_refused_and_nothing_is_stored(api, nps, app, condition, field_error):
    error = error_of(api.post("/triggers", json={"touchpoint": "order.delivered", "survey_id": nps,
                                                 "channels": ["web"], "conditions": [condition]}), 422)
    assert field_error in str(error["fields"])
    assert ok(api.get("/triggers"), 200)["items"] == []


def test_a_bad_quiet_window_or_sample_rate_is_refused(api, nps):
    for extra in ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, {"sample_rate": 1.5},
                  {"throttle_days": -1}, {"reminder": {"after_seconds": 10}}):
        error_of(api.post("/triggers", json={"touchpoint": "order.delivered", "survey_id": nps,
                                             "channels": ["web"], **extra}), 422)
    assert ok(api.get("/triggers"), 200)["items"] == []


def test_concurrent_replays_of_one_event_make_one_dispatch(api, nps, app):
    from concurrent.futures import ThreadPoolExecutor

    create_trigger(api, nps, channels=["sms"])
    key = new_key("replay")

    def send(_):
        client = ApiClient(app.test_client(), api.key)
        return post_event(client, key=key, contact={"phone": "+447700900123"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(16)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.get_data() for r in responses}) == 1
    assert count_rows(app, "events") == 1 and count_rows(app, "dispatches") == 1


def test_concurrent_events_for_one_contact_ask_once_inside_the_throttle(api, nps, app):
    from concurrent.futures import ThreadPoolExecutor

    create_trigger(api, nps, channels=["sms"], throttle_days=30)
    ok(api.put("/contacts/cust-1", json={"phone": "+447700900123"}), 201)

    def send(n):
        client = ApiClient(app.test_client(), api.key)
        return post_event(client, key=new_key(f"burst-{n}"))

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(send, range(12)))
    assert {r.status_code for r in responses} == {202}, [r.get_data() for r in responses]
    outcomes = sorted((r.get_json()["dispatches"][0]["status"], r.get_json()["dispatches"][0].get("reason"))
                      for r in responses)
    assert outcomes == [("scheduled", None)] + [("suppressed", "throttled")] * 11
