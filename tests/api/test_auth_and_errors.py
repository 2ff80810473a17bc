"""Authentication and the error envelope, on every route family of the API."""
from __future__ import annotations

import json

import pytest

from tests.api.helpers import check_each, create_survey, error_of, ok, snapshot

ONE_MIB = 1024 * 1024

# Every route of the contract (and the extra touchpoint and trigger reads), with a body where it takes one.
ROUTES = [
    ("GET", "/surveys", None),
    ("POST", "/surveys", {"name": "x", "kind": "nps"}),
    ("GET", "/surveys/1", None),
    ("PATCH", "/surveys/1", {"name": "y"}),
    ("GET", "/surveys/1/metrics", None),
    ("GET", "/triggers", None),
    ("POST", "/triggers", {"touchpoint": "order.delivered", "survey_id": 1, "channels": ["web"]}),
    ("GET", "/triggers/1", None),
    ("GET", "/touchpoints", None),
    ("PUT", "/touchpoints/order.delivered", {"stage": "support"}),
    ("PUT", "/contacts/cust-1", {"name": "Ada"}),
    ("GET", "/contacts/cust-1", None),
    ("POST", "/events", {"touchpoint": "order.delivered", "contact": {"external_id": "cust-1"}}),
    ("GET", "/dispatches/1", None),
    ("GET", "/responses", None),
    ("GET", "/alerts", None),
    ("GET", "/alerts/1", None),
    ("PATCH", "/alerts/1", {"status": "resolved"}),
]
WRITES = [(method, path, body) for method, path, body in ROUTES if body is not None]


def send(client, method: str, path: str, headers: dict | None = None, **kwargs):
    return client.open("/api/v1" + path, method=method, headers=headers or {}, **kwargs)


@pytest.fixture
def seeded(api) -> dict:
    """A survey with id 1 at version 1, so the routes above would succeed with a good key."""
    return create_survey(api, kind="nps", locales=["en"])


def test_without_a_bearer_key_is_401(app, client, seeded):
    before = snapshot(app)

    def check(method, path, body):
        for authorization in (None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "Token abc"):
            headers = {} if authorization is None else {"Authorization": authorization}
            response = send(client, method, path, headers, json=body)
            error = error_of(response, 401)
            assert error["code"] == "unauthorized", authorization
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), authorization

    check_each(ROUTES, check)
    assert snapshot(app) == before


def test_wrong_key_is_401(app, client, api_key, seeded):
    before = snapshot(app)

    def check(method, path, body):
        for key in ("not-a-real-key", api_key + "x", api_key[:-1]):
            response = send(client, method, path, {"Authorization": f"Bearer {key}"}, json=body)
            error = error_of(response, 401)
            assert error["code"] == "unauthorized"
            assert "invalid_token" in response.headers["WWW-Authenticate"]

    check_each(ROUTES, check)
    assert snapshot(app) == before


def test_the_right_key_works_and_the_scheme_is_case_insensitive(client, api_key):
    assert send(client, "GET", "/surveys", {"Authorization": f"Bearer {api_key}"}).status_code == 200
    assert send(client, "GET", "/surveys", {"Authorization": f"bearer {api_key}"}).status_code == 200


def test_a_401_comes_before_a_404(client):
    assert error_of(send(client, "GET", "/surveys/424242"), 401)["code"] == "unauthorized"


def test_malformed_json_is_400_and_nothing_is_stored(app, api, seeded):
    before = snapshot(app)

    def check(method, path, body):
        for raw in ('{"name": "x",', "{name: 'x'}", "not json", '{"a": 1} trailing', "\x00", b"\xff\xfe{}"):
            response = send(api.client, method, path,
                            {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}, data=raw)
            error = error_of(response, 400)
            assert error["code"] == "malformed_request", raw

    check_each(WRITES, check)
    assert snapshot(app) == before


def test_a_body_that_is_not_declared_json_is_400(app, api, seeded):
    before = snapshot(app)

    def check(method, path, body):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"Authorization": f"Bearer {api.key}"}
            if content_type:
                headers["Content-Type"] = content_type
            response = send(api.client, method, path, headers, data=json.dumps(body))
            error = error_of(response, 400)
            assert error["code"] == "malformed_request", content_type

    check_each(WRITES, check)
    assert snapshot(app) == before


def test_json_with_a_charset_is_json(api):
    response = api.post("/surveys", data=json.dumps({"name": "x", "kind": "csat", "locales": ["en"]}),
                        headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok(response, 201)["kind"] == "csat"


WRONG_TYPES = [
    ("POST", "/surveys", {"name": 5, "kind": "nps"}, "name"),
    ("POST", "/surveys", {"name": "x", "kind": "nps", "locales": "en"}, "locales"),
    ("POST", "/surveys", {"name": "x", "kind": "nps", "alert": {"threshold": "six"}}, "alert"),
    ("POST", "/surveys", {"name": "x", "kind": "nps", "alert": {"threshold": 5.5}}, "alert"),
    ("POST", "/triggers", {"touchpoint": "t", "survey_id": 1, "channels": ["web"], "delay_seconds": "60"}, "delay_seconds"),
    ("POST", "/triggers", {"touchpoint": "t", "survey_id": "1", "channels": ["web"]}, "survey_id"),
    ("POST", "/surveys", {"name": "x", "kind": "nps", "questions": {"id": "score"}}, "questions"),
    ("PATCH", "/surveys/1", {"name": ["x"]}, "name"),
    ("POST", "/triggers", {"touchpoint": "t", "survey_id": 1, "channels": ["web"], "sample_rate": "all"}, "sample_rate"),
    ("POST", "/triggers", {"touchpoint": "t", "survey_id": 1, "channels": ["web"], "throttle_days": 1.5}, "throttle_days"),
    ("POST", "/triggers", {"touchpoint": "t", "survey_id": 1, "channels": ["web"], "quiet_hours": "21-09"}, "quiet_hours"),
    ("PUT", "/touchpoints/t", {"stage": 3}, "stage"),
    ("PUT", "/contacts/c", {"email": 12}, "email"),
    ("PUT", "/contacts/c", {"attributes": "vip"}, "attributes"),
    ("POST", "/events", {"touchpoint": 1, "contact": {"external_id": "c"}}, "touchpoint"),
    ("POST", "/events", {"touchpoint": "t", "contact": {"external_id": 7}}, "contact"),
    ("POST", "/events", {"touchpoint": "t", "contact": {"external_id": "c"}, "occurred_at": 1700000000}, "occurred_at"),
    ("PATCH", "/alerts/1", {"note": 5}, "note"),
]


def test_wrong_types_are_422_naming_the_field(app, api, seeded):
    before = snapshot(app)

    def check(method, path, body, field):
        response = send(api.client, method, path, {"Authorization": f"Bearer {api.key}"}, json=body)
        error = error_of(response, 422)
        assert error["code"] == "invalid"
        assert field in error["fields"], error

    check_each(WRONG_TYPES, check)
    assert snapshot(app) == before


def test_unknown_fields_are_422(app, api, seeded):
    before = snapshot(app)

    def check(method, path, body):
        response = send(api.client, method, path, {"Authorization": f"Bearer {api.key}"}, json={**body, "surprise": True})
        error = error_of(response, 422)
        assert error["fields"].get("surprise"), error

    check_each(WRITES, check)
    assert snapshot(app) == before


def test_unknown_nested_fields_are_422(app, api, seeded):
    before = snapshot(app)
    error = error_of(api.post("/events", json={"touchpoint": "t", "contact": {"external_id": "c", "shoe_size": 42}}), 422)
    assert "contact" in error["fields"]
    error = error_of(api.post("/surveys", json={"name": "x", "kind": "nps", "alert": {"threshold": 5, "level": "high"}}), 422)
    assert "alert" in error["fields"]
    assert snapshot(app) == before


def test_json_that_is_not_an_object_is_refused(app, api):
    for body in ("[]", "null", '"text"', "42"):
        response = api.post("/surveys", data=body, headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 422), body
        error_of(response, response.status_code)
    assert snapshot(app, "surveys")["surveys"] == 0


def test_a_body_over_one_mebibyte_is_413(app, api, seeded):
    before = snapshot(app)

    def check(method, path, body):
        payload = json.dumps({**body, "padding": "x" * ONE_MIB})
        response = send(api.client, method, path,
                        {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}, data=payload)
        error = error_of(response, 413)
        assert error["code"] == "payload_too_large"

    check_each(WRITES, check)
    assert snapshot(app) == before


def test_a_body_of_exactly_one_mebibyte_is_read(app, api):
    body = json.dumps({"touchpoint": "order.delivered", "contact": {"external_id": "big"}, "attributes": {"pad": ""}})
    body = body.replace('"pad": ""', '"pad": "' + "x" * (ONE_MIB - len(body)) + '"')
    assert len(body.encode()) == ONE_MIB
    response = api.post("/events", data=body, headers={"Content-Type": "application/json"})
    assert ok(response, 202)["dispatches"] == []
    assert response.status_code == 202


def test_unknown_api_path_and_method_are_enveloped(api):
    assert error_of(api.get("/nothing-here"), 404)["code"] == "not_found"
    response = api.client.delete("/api/v1/surveys", headers={"Authorization": f"Bearer {api.key}"})
    assert error_of(response, 405)["code"] == "method_not_allowed"


def test_error_responses_are_json_even_for_path_ids_of_the_wrong_type(api):
    for path in ("/surveys/abc", "/alerts/abc", "/dispatches/abc", "/triggers/abc"):
        assert error_of(api.get(path), 404)["code"] == "not_found"


def test_health_needs_no_key(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
