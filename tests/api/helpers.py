"""Helpers the API tests share: build surveys, triggers and events over the API, answer on the web page.

Everything here goes through HTTP the way an integrator or a respondent would; only `count_rows`
looks into the database, to prove that a refused request stored nothing the API cannot show.
"""
from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from tests.conftest import PUBLIC_URL

_keys = itertools.count(1)


def new_key(prefix: str = "key") -> str:
    """A fresh Idempotency-Key."""
    return f"{prefix}-{next(_keys)}"


def ok(response, status: int) -> Any:
    """The JSON body, after checking the status (the body is shown when it is not the one expected)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json()


def error_of(response, status: int) -> dict:
    """The inside of the error envelope, after checking status and shape."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def create_survey(api, **overrides: Any) -> dict:
    """POST /surveys (NPS from its template, en/tr/fa unless told) and return the 201 body."""
    data: dict[str, Any] = {"name": "Delivery NPS", "kind": "nps", "locales": ["en", "tr", "fa"]}
    data.update(overrides)
    return ok(api.post("/surveys", json=data), 201)


def create_trigger(api, survey_id: int, **overrides: Any) -> dict:
    """POST /triggers (order.delivered over web unless told) and return the 201 body."""
    data: dict[str, Any] = {"touchpoint": "order.delivered", "survey_id": survey_id, "channels": ["web"], "delay_seconds": 0}
    data.update(overrides)
    return ok(api.post("/triggers", json=data), 201)


def post_event(api, touchpoint: str = "order.delivered", external_id: str = "cust-1", key: str | None = None,
               contact: dict | None = None, **extra: Any):
    """POST /events; returns the raw response."""
    payload = {"touchpoint": touchpoint, "contact": {"external_id": external_id, **(contact or {})}, **extra}
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/events", json=payload, headers=headers)


def fire(api, touchpoint: str = "order.delivered", external_id: str = "cust-1", **extra: Any) -> dict:
    """POST /events and return the 202 body."""
    return ok(post_event(api, touchpoint, external_id, **extra), 202)


def page_path(url: str) -> str:
    """The path of a survey link, for the test client (the host is the configured public URL)."""
    assert url.startswith(PUBLIC_URL + "/s/"), url
    return urlsplit(url).path


def answer(client, url: str, score: int | str, **follow_ups: str):
    """Answer a web dispatch as the respondent: the score, then (if any) follow-ups in a second post."""
    path = page_path(url)
    first = client.post(path, data={"score": str(score)})
    assert first.status_code == 200, (first.status_code, first.get_data(as_text=True))
    if follow_ups:
        second = client.post(path, data=follow_ups)
        assert second.status_code == 200, (second.status_code, second.get_data(as_text=True))
        return second
    return first


def web_dispatch(body: dict) -> dict:
    """The one web dispatch of an event answer."""
    webs = [d for d in body["dispatches"] if d["channel"] == "web" and d.get("url")]
    assert len(webs) == 1, body
    return webs[0]


def survey_answer(api, client, score: int, external_id: str = "cust-1", touchpoint: str = "order.delivered",
                  **follow_ups: str) -> dict:
    """A whole loop for a survey whose trigger is already there: an event, then the answer on the page."""
    body = fire(api, touchpoint, external_id)
    answer(client, web_dispatch(body)["url"], score, **follow_ups)
    return body


def responses(api, **query: Any) -> list[dict]:
    """Every response GET /responses gives for the query, following next_cursor."""
    items: list[dict] = []
    cursor = None
    while True:
        params = dict(query)
        if cursor is not None:
            params["cursor"] = cursor
        page = ok(api.get("/responses", query_string=params), 200)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def count_rows(app, table: str) -> int:
    """How many rows a table holds right now (read in its own app context)."""
    from surveyd.extensions import db

    with app.app_context():
        try:
            return db.session.execute(sa.text(f'SELECT COUNT(*) FROM "{table}"')).scalar_one()
        finally:
            db.session.remove()


def snapshot(app, *tables: str) -> dict[str, int]:
    """Row counts of several tables, to compare before and after a refused request."""
    return {table: count_rows(app, table) for table in tables or ALL_TABLES}


ALL_TABLES = (
    "surveys", "survey_versions", "triggers", "touchpoints", "contacts", "consents", "events", "dispatches",
    "dispatch_status_changes", "responses", "answers", "alerts",
)


def raw_json(api, method: str, path: str, body: str | bytes, content_type: str = "application/json", **headers: str):
    """Send a body exactly as given (for malformed JSON, key order and whitespace tests)."""
    send = getattr(api, method.lower())
    return send(path, data=body, headers={"Content-Type": content_type, **headers})


def canonical(obj: Any) -> str:
    """JSON with sorted keys and no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def check_each(cases, check) -> None:
    """Run check on every case (a tuple of arguments) and fail once, naming every case that failed.

    Cheap variations of one rule run in one test this way: each test costs a database clean-up,
    and the report still names each failing case.
    """
    failures = []
    for case in cases:
        try:
            check(*case)
        except AssertionError as error:
            failures.append(f"{case!r}: {error}")
    assert not failures, "\n".join(failures)
