"""Triggers over the API: every contract field stored and echoed, refusals store nothing."""
from __future__ import annotations

from tests.api.helpers import check_each, create_survey, create_trigger, error_of, ok, snapshot

FULL = {
    "touchpoint": "ticket.closed",
    "channels": ["telegram", "sms", "email", "web"],
    "delay_seconds": 3600,
    "quiet_hours": {"start": "21:00", "end": "09:00"},
    "throttle_days": 30,
    "sample_rate": 0.25,
    "conditions": [
        {"field": "event.open_complaint", "op": "not_equals", "value": True},
        {"field": "contact.tier", "op": "in", "value": ["gold", "silver"]},
        {"field": "event.amount", "op": "gte", "value": 10.5},
        {"field": "contact.vip", "op": "exists"},
    ],
    "reminder": {"after_seconds": 86400, "channel": "email"},
    "expire_after_seconds": 7 * 86400,
}


def trigger_count(api) -> int:
    return len(ok(api.get("/triggers"), 200)["items"])


def test_every_contract_field_is_stored_and_echoed(api):
    survey = create_survey(api)
    body = create_trigger(api, survey["id"], **FULL)

    assert isinstance(body["id"], int)
    assert body["survey_id"] == survey["id"]
    for field, value in FULL.items():
        if field == "conditions":
            # A condition without a value reads back with value null or without it; the rest is exact.
            for given, stored in zip(value, body["conditions"], strict=True):
                assert {k: v for k, v in stored.items() if v is not None} == given
        else:
            assert body[field] == value, field
    assert body["enabled"] is True
    assert body["created_at"]

    # The same on a fresh read and in the list.
    assert ok(api.get(f"/triggers/{body['id']}"), 200) == body
    assert ok(api.get("/triggers"), 200)["items"] == [body]


def test_defaults_of_optional_fields(api):
    survey = create_survey(api)
    body = ok(api.post("/triggers", json={"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["sms"]}), 201)
    assert body["channels"] == ["sms"]
    assert body["delay_seconds"] == 0
    assert body["sample_rate"] == 1.0
    assert body["conditions"] == []
    assert body.get("quiet_hours") is None
    assert body.get("throttle_days") is None
    assert body.get("reminder") is None
    assert body.get("expire_after_seconds") is None


def test_channel_order_is_kept(api):
    survey = create_survey(api)
    body = create_trigger(api, survey["id"], channels=["email", "web", "sms"])
    assert body["channels"] == ["email", "web", "sms"]


def test_a_trigger_creates_its_touchpoint_with_a_stage(api):
    survey = create_survey(api)
    create_trigger(api, survey["id"], touchpoint="support.ticket.closed")
    touchpoints = {t["key"]: t for t in ok(api.get("/touchpoints"), 200)["items"]}
    assert touchpoints["support.ticket.closed"]["stage"] == "support"


INVALID = [
    ({"channels": ["pigeon"]}, "channels"),
    ({"channels": ["sms", "web", "sms"]}, "channels"),
    ({"channels": []}, "channels"),
    ({"channels": "web"}, "channels"),
    ({"quiet_hours": {"start": "9:00", "end": "17:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "24:00", "end": "07:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "21:60", "end": "07:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "21:00"}}, "quiet_hours"),
    ({"sample_rate": 1.5}, "sample_rate"),
    ({"sample_rate": -0.1}, "sample_rate"),
    ({"throttle_days": -1}, "throttle_days"),
    ({"delay_seconds": -5}, "delay_seconds"),
    ({"delay_seconds": "soon"}, "delay_seconds"),
    ({"reminder": {"channel": "sms"}}, "reminder"),
    ({"reminder": {"after_seconds": 3600, "channel": "fax"}}, "reminder"),
    ({"expire_after_seconds": 5}, "expire_after_seconds"),
    ({"conditions": [{"field": "order.total", "op": "gt", "value": 1}]}, "conditions"),
    ({"conditions": [{"field": "event.total", "op": "bigger", "value": 1}]}, "conditions"),
    ({"touchpoint": "Order Delivered"}, "touchpoint"),
    ({"survey_id": "one"}, "survey_id"),
    ({"colour": "blue"}, "colour"),
    ({"throttle_days": 1.5}, "throttle_days"),
    ({"delay_seconds": "60"}, "delay_seconds"),
    ({"reminder": {"after_seconds": 30}}, "reminder"),
]


def test_invalid_trigger_is_422_and_nothing_is_created(api, app):
    survey = create_survey(api)
    create_trigger(api, survey["id"])

    def check(changes, field):
        before = snapshot(app, "triggers", "touchpoints")
        body = {"touchpoint": "ticket.closed", "survey_id": survey["id"], "channels": ["web"], **changes}
        error = error_of(api.post("/triggers", json=body), 422)
        assert error["code"] == "invalid"
        assert field in error["fields"], error
        assert trigger_count(api) == 1
        assert snapshot(app, "triggers", "touchpoints") == before

    check_each(INVALID, check)


def test_missing_required_fields_are_named(api):
    error = error_of(api.post("/triggers", json={}), 422)
    assert {"touchpoint", "survey_id", "channels"} <= set(error["fields"])


def test_unknown_survey_is_404_and_nothing_is_created(api, app):
    survey = create_survey(api)
    create_trigger(api, survey["id"])
    before = snapshot(app, "triggers", "touchpoints")

    error = error_of(api.post("/triggers", json={"touchpoint": "brand.new", "survey_id": 987654, "channels": ["web"]}), 404)

    assert error["code"] == "not_found"
    assert trigger_count(api) == 1
    assert snapshot(app, "triggers", "touchpoints") == before


def test_unknown_trigger_is_404(api):
    assert error_of(api.get("/triggers/424242"), 404)["code"] == "not_found"


def test_patch_changes_only_the_fields_given_and_pauses(api):
    survey = create_survey(api)
    other = create_survey(api, name="Support NPS")
    trigger = create_trigger(api, survey["id"], **FULL)
    changed = ok(api.patch(f"/triggers/{trigger['id']}", json={"channels": ["email", "sms"], "quiet_hours": None,
                                                                "survey_id": other["id"], "enabled": False}), 200)
    assert changed["channels"] == ["email", "sms"] and changed["quiet_hours"] is None
    assert changed["survey_id"] == other["id"] and changed["enabled"] is False
    for field in ("delay_seconds", "throttle_days", "sample_rate", "conditions", "reminder", "expire_after_seconds",
                  "touchpoint"):
        assert changed[field] == trigger[field], field
    # A paused trigger plans nothing.
    accepted = ok(api.post("/events", json={"touchpoint": "ticket.closed", "contact": {"external_id": "c-1"}}), 202)
    assert accepted["dispatches"] == []


def test_a_refused_patch_changes_nothing(api, app):
    survey = create_survey(api)
    trigger = create_trigger(api, survey["id"], **FULL)
    before = snapshot(app, "triggers", "touchpoints")
    for body, status in (({"channels": []}, 422), ({"channels": ["sms", "sms"]}, 422), ({"delay_seconds": -1}, 422),
                         ({"sample_rate": 2}, 422), ({"survey_id": 999999}, 404), ({"touchpoint": "Bad Key!"}, 422),
                         ({"conditions": [{"field": "event.x", "op": "gt", "value": "ten"}]}, 422)):
        error_of(api.patch(f"/triggers/{trigger['id']}", json=body), status)
    assert ok(api.get(f"/triggers/{trigger['id']}"), 200) == trigger
    assert snapshot(app, "triggers", "touchpoints") == before
    error_of(api.patch("/triggers/999999", json={"enabled": False}), 404)
    raw = api.patch(f"/triggers/{trigger['id']}", data="{not json", headers={"Content-Type": "application/json"})
    assert raw.status_code == 400
    assert ok(api.get(f"/triggers/{trigger['id']}"), 200) == trigger
