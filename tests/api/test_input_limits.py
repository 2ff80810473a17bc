"""Input that once broke the service: JSON nested thousands deep (a RecursionError, 500) and ids past 64 bits (an
OverflowError, 500), instants before year 1 once made UTC. Now a clear 4xx that changes nothing; the OpenAPI document states the id range."""
from __future__ import annotations

import json

import pytest

from surveyd.json_limits import MAX_DEPTH, depth, too_deep
from tests.api.helpers import (
    create_survey,
    create_trigger,
    error_of,
    ok,
    raw_json,
    snapshot,
)
from tests.console.staff import signed_in

DEEP = "[" * 3000 + "]" * 3000


@pytest.mark.parametrize(("method", "path"), [("POST", "/events"), ("POST", "/surveys"), ("POST", "/triggers"),
                                              ("PUT", "/contacts/x"), ("PATCH", "/surveys/1"),
                                              ("POST", "/webhook-endpoints"), ("POST", "/themes/build")])
def test_json_nested_thousands_deep_is_a_400_that_changes_nothing(api, app, method, path):
    create_survey(api)
    before = snapshot(app)
    for body in (DEEP, '{"a": ' * 3000 + "1" + "}" * 3000, '{"name": ' + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "}"):
        error = error_of(raw_json(api, method, path, body), 400)
        assert error["code"] == "malformed_request"
    assert snapshot(app) == before


def test_ordinary_nesting_still_passes(api):
    survey = create_survey(api)  # a survey body nests a few levels
    body = '{"touchpoint": "order.delivered", "contact": {"external_id": "c-1"}, "attributes": ' + \
        '{"a": ' * (MAX_DEPTH - 3) + "1" + "}" * (MAX_DEPTH - 3) + "}"
    create_trigger(api, survey["id"])
    assert raw_json(api, "POST", "/events", body).status_code in (202, 422)  # read, then judged on its content


def test_depth_counts_brackets_outside_strings_only():
    assert depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert depth(r'["\"[[[", ["x"]]') == 2
    assert depth("1") == 0 and depth(b"[[]]") == 2
    assert depth("[" * 1000, limit=5) == 6  # stops counting past the limit
    assert not too_deep('{"a": "' + "[" * 100 + '"}') and too_deep(b"[" * (MAX_DEPTH + 1))


def test_an_oversized_body_is_a_413_in_the_envelope(api, app):
    before = snapshot(app)
    big = '{"name": "' + "x" * (1024 * 1024 + 10) + '", "kind": "nps", "locales": ["en"]}'
    answer = raw_json(api, "POST", "/surveys", big)
    assert answer.status_code == 413 and answer.get_json()["error"]["message"]
    assert snapshot(app) == before


@pytest.mark.parametrize("path", ["/alerts/{}", "/dispatches/{}", "/surveys/{}", "/triggers/{}", "/goals/{}",
                                  "/themes/{}", "/surveys/{}/metrics", "/surveys/{}/funnel",
                                  "/webhook-endpoints/{}"])
def test_ids_past_64_bits_are_404(api, path):
    for huge in (2**31, 2**63, 2**64, 10**30):
        assert error_of(api.get(path.format(huge)), 404)
    assert api.get(path.format(2**31 - 1)).status_code == 404  # the largest id is just another unknown id


def test_integers_past_64_bits_in_bodies_and_queries_are_refused(api, app):
    survey = create_survey(api)
    before = snapshot(app)
    assert "survey_id" in error_of(api.post("/triggers", json={"survey_id": 2**64, "touchpoint": "a.b"}), 422)[
        "fields"]
    assert "cursor" in error_of(api.get("/responses", query_string={"survey_id": survey["id"],
                                                                     "cursor": 2**64}), 422)["fields"]
    assert "cursor" in error_of(api.get("/alerts", query_string={"cursor": 2**64}), 422)["fields"]
    assert error_of(api.post("/webhook-endpoints", json={"url": "https://h.example.com/x", "events": [
        "response.created"], "survey_ids": [2**64]}), 422)
    assert snapshot(app) == before


def test_instants_outside_1970_to_9999_are_refused(api, app):
    # Found by the schemathesis run (tests/fuzz): a valid ISO string whose UTC instant falls before year 1 was a 500.
    survey = create_survey(api)
    create_trigger(api, survey["id"], channels=["web"])
    before = snapshot(app)
    for moment in ("0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z"):
        event = {"contact": {"external_id": "c-1"}, "touchpoint": "order.delivered", "occurred_at": moment}
        assert "occurred_at" in error_of(api.post("/events", json=event), 422)["fields"]
        assert "since" in error_of(api.get(f"/surveys/{survey['id']}/metrics", query_string={"since": moment}),
                                   422)["fields"]
        assert "since" in error_of(api.get(f"/surveys/{survey['id']}/funnel", query_string={"since": moment}),
                                   422)["fields"]
    assert snapshot(app) == before
    event = {"contact": {"external_id": "c-1"}, "touchpoint": "order.delivered",
             "occurred_at": "2026-05-04T13:30:00+03:00"}
    assert ok(api.post("/events", json=event), 202)


def test_text_with_nul_is_refused_everywhere(api, app, client):
    # Found by the fuzz suite on PostgreSQL, which keeps no NUL in text or jsonb: each of these was a 500 there.
    survey = create_survey(api)
    create_trigger(api, survey["id"], channels=["web"])
    before = snapshot(app)
    event = {"contact": {"external_id": "c\u0000-1"}, "touchpoint": "order.delivered"}
    error = error_of(raw_json(api, "POST", "/events", json.dumps(event)), 400)
    assert "NUL" in error["message"]
    assert "NUL" in error_of(api.get("/alerts", query_string={"q": "a\x00b"}), 400)["message"]
    assert "NUL" in error_of(api.get("/contacts/c%00x"), 400)["message"]
    for path, data in (("/webhooks/twilio/sms", {"Body": "9\x00", "From": "+447700900123"}),
                       ("/u/token", {"List-Unsubscribe": "One-Click\x00"})):
        response = client.post(path, data=data)
        assert response.status_code == 400 and "NUL" in response.get_data(as_text=True)
    response = client.post("/webhooks/telegram", data=b'{"update_id": 1, "message": {"text": "\\u0000"}}',
                           content_type="application/json")
    assert response.status_code == 400
    assert snapshot(app) == before
    # A backslash followed by u0000 is text like any other.
    assert ok(api.post("/events", json={"contact": {"external_id": "c-1"}, "touchpoint": "order.delivered",
                                        "attributes": {"path": "C:\\u0000"}}), 202)


def test_nan_and_infinity_are_not_json(api, app):
    # Python's parser takes them and PostgreSQL's jsonb refuses them: found by the fuzz suite as a 500.
    create_survey(api)
    before = snapshot(app)
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = '{"contact": {"external_id": "c-1"}, "touchpoint": "order.delivered", "attributes": {"x": %s}}'
        assert "NaN" in error_of(raw_json(api, "POST", "/events", body % constant), 400)["message"]
    assert snapshot(app) == before
    body = '{"contact": {"external_id": "c-1"}, "touchpoint": "order.delivered", "attributes": {"x": "NaN"}}'
    assert ok(raw_json(api, "POST", "/events", body), 202)  # the word, as text, is fine


def test_text_longer_than_its_column_is_a_422(api, app):
    # Found by the fuzz suite on PostgreSQL (VARCHAR lengths hold there; SQLite ignores them): each was a 500.
    before = snapshot(app)
    assert "external_id" in error_of(api.put("/contacts/" + "x" * 201, json={"name": "a"}), 422)["fields"]
    assert "locale" in error_of(api.put("/contacts/a", json={"locale": "en-" + "-".join(["abcdefgh"] * 3)}),
                                422)["fields"]
    long_email = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"
    assert "email" in error_of(api.put("/contacts/a", json={"email": long_email}), 422)["fields"]
    assert snapshot(app) == before
    assert ok(api.put("/contacts/" + "x" * 200, json={"locale": "fa-IR"}), 201)


def test_the_console_answers_404_for_such_ids(app):
    admin = signed_in(app, "admin")
    for path in (f"/console/alerts/{2**64}", f"/console/surveys/{2**64}", f"/console/triggers/{2**64}"):
        assert admin.get(path).status_code == 404


def test_the_openapi_document_gives_the_id_range(api):
    doc = ok(api.get("/openapi.json"), 200)
    parameters = doc["paths"]["/api/v1/responses"]["get"]["parameters"]
    cursor = next(p for p in parameters if p["name"] == "cursor")
    assert cursor["schema"]["maximum"] == 2**31 - 1 and cursor["schema"]["minimum"] == 1
