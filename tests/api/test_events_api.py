"""Events over the API: planned dispatches, idempotent replays, suppression reasons and timing."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from tests.api.helpers import (
    check_each, create_survey, create_trigger, error_of, fire, new_key, ok, post_event, raw_json, snapshot,
)

EVENT_TABLES = ("events", "dispatches", "dispatch_status_changes", "contacts", "touchpoints")


def at(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.tzinfo is not None, value
    return moment


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def survey(api) -> dict:
    return create_survey(api, kind="nps", locales=["en", "tr", "fa"])


@pytest.fixture
def web_trigger(api, survey) -> dict:
    return create_trigger(api, survey["id"], channels=["web"])


def test_event_plans_one_dispatch_per_trigger(api, survey):
    other = create_survey(api, name="CSAT", kind="csat", locales=["en"])
    triggers = [
        create_trigger(api, survey["id"], channels=["web"]),
        create_trigger(api, survey["id"], channels=["sms"]),
        create_trigger(api, other["id"], channels=["email"]),
        create_trigger(api, other["id"], channels=["telegram"]),
    ]
    create_trigger(api, survey["id"], touchpoint="ticket.closed", channels=["web"])  # another touchpoint
    contact = {"email": "a@example.com", "phone": "+905321234567", "telegram_chat_id": "4242", "locale": "fa"}
    before = now()

    response = post_event(api, external_id="cust-1", contact=contact, attributes={"order_id": "A-1"})

    assert response.status_code == 202
    assert response.mimetype == "application/json"
    assert "Idempotent-Replayed" not in response.headers
    body = response.get_json()
    assert isinstance(body["id"], int)
    dispatches = body["dispatches"]
    assert [d["channel"] for d in dispatches] == ["web", "sms", "email", "telegram"]
    assert [d["survey_id"] for d in dispatches] == [survey["id"], survey["id"], other["id"], other["id"]]
    assert len({d["id"] for d in dispatches}) == 4
    web, sms, email, telegram = dispatches
    assert web["status"] == "sent"
    assert web["url"].startswith("http://surveyd.test/s/")
    for queued in (sms, email, telegram):
        assert queued["status"] == "scheduled"
        assert "url" not in queued and "reason" not in queued
    for dispatch in dispatches:
        assert before - timedelta(seconds=5) <= at(dispatch["scheduled_at"]) <= now() + timedelta(seconds=5)
    assert len(triggers) == 4

    # The event's contact fields landed on the contact; the dispatches are theirs, in their locale.
    stored = ok(api.get("/contacts/cust-1"), 200)
    assert stored["email"] == "a@example.com" and stored["telegram_chat_id"] == "4242"
    detail = ok(api.get(f"/dispatches/{web['id']}"), 200)
    assert detail["contact"] == "cust-1" and detail["locale"] == "fa" and detail["event_id"] == body["id"]


def test_web_link_opens_the_survey_page(api, client, web_trigger):
    body = fire(api, contact={"locale": "fa"})
    page = client.get(body["dispatches"][0]["url"].replace("http://surveyd.test", ""))
    assert page.status_code == 200
    assert 'dir="rtl"' in page.get_data(as_text=True)


def test_replay_returns_the_same_bytes_and_creates_nothing(api, app, web_trigger):
    key = new_key()
    first = post_event(api, key=key, attributes={"order_id": "A-1"})
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first.headers
    before = snapshot(app, *EVENT_TABLES)

    for _ in range(2):
        again = post_event(api, key=key, attributes={"order_id": "A-1"})
        assert again.status_code == 202
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.get_data() == first.get_data()

    assert snapshot(app, *EVENT_TABLES) == before
    assert before["events"] == 1 and before["dispatches"] == 1


def test_same_key_with_another_body_is_422_and_creates_nothing(api, app, web_trigger):
    key = new_key()
    first = post_event(api, key=key, attributes={"order_id": "A-1"})
    assert first.status_code == 202
    before = snapshot(app, *EVENT_TABLES)

    error = error_of(post_event(api, key=key, attributes={"order_id": "A-2"}), 422)
    assert "Idempotency-Key" in error["fields"]
    error_of(post_event(api, key=key, external_id="someone-else"), 422)

    assert snapshot(app, *EVENT_TABLES) == before
    assert error_of(api.get("/contacts/someone-else"), 404)
    # The first answer still stands for the first body.
    assert post_event(api, key=key, attributes={"order_id": "A-1"}).get_data() == first.get_data()


def test_key_order_and_whitespace_do_not_change_the_body(api, app, web_trigger):
    key = new_key()
    compact = '{"touchpoint":"order.delivered","contact":{"external_id":"cust-1","locale":"en"},"attributes":{"a":1,"b":[1,2]}}'
    spaced = ('{\n  "attributes": { "b": [1, 2], "a": 1 },\n  "contact": {"locale": "en",   "external_id": "cust-1"},'
              '\n  "touchpoint": "order.delivered"\n}\n')
    assert json.loads(compact) == json.loads(spaced)

    first = raw_json(api, "POST", "/events", compact, **{"Idempotency-Key": key})
    assert first.status_code == 202
    second = raw_json(api, "POST", "/events", spaced, **{"Idempotency-Key": key})
    assert second.status_code == 202
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.get_data() == first.get_data()
    assert snapshot(app, "events")["events"] == 1


def test_without_a_key_every_post_is_a_new_event(api, app, web_trigger):
    first = fire(api)
    second = fire(api)
    assert first["id"] != second["id"]
    assert first["dispatches"][0]["id"] != second["dispatches"][0]["id"]
    assert snapshot(app, "events")["events"] == 2


def test_keys_are_independent(api, app, web_trigger):
    first = post_event(api, key=new_key("a"))
    second = post_event(api, key=new_key("b"))
    assert first.get_json()["id"] != second.get_json()["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_overlong_idempotency_key_is_422(api, app, web_trigger):
    error = error_of(post_event(api, key="k" * 256), 422)
    assert "Idempotency-Key" in error["fields"]
    assert snapshot(app, "events")["events"] == 0


def _post_live(base: str, api_key: str, body: bytes, key: str | None) -> tuple[int, bytes, dict]:
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base + "/api/v1/events", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def _race(base: str, api_key: str, body: bytes, key: str | None, threads: int = 8) -> list[tuple[int, bytes, dict]]:
    """The same request from several threads at once, each on its own connection."""
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def worker(index: int) -> None:
        barrier.wait()
        results[index] = _post_live(base, api_key, body, key)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert all(result is not None for result in results)
    return results


@pytest.mark.parametrize("known_contact, touchpoint, planned", [
    (False, "order.delivered", 1),
    (True, "order.delivered", 1),
    (False, "brand.new.touchpoint", 0),
], ids=["new-contact", "known-contact", "new-contact-and-touchpoint"])
def test_concurrent_duplicates_count_once(api, app, api_key, live_server, web_trigger, known_contact, touchpoint, planned):
    if known_contact:
        ok(api.put("/contacts/racer", json={"name": "Racer"}), 201)
    key = new_key("race")
    body = json.dumps({"touchpoint": touchpoint, "contact": {"external_id": "racer", "locale": "tr"},
                       "attributes": {"order_id": "R-1"}}).encode()

    results = _race(live_server, api_key, body, key)

    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {202, 409}, [(s, b[:300]) for s, b, _ in results]
    accepted = [payload for status, payload, _ in results if status == 202]
    assert accepted, statuses
    assert len(set(accepted)) == 1, "every accepted answer is the same bytes"
    for status, payload, _ in results:
        if status == 409:
            assert json.loads(payload)["error"]["code"] == "conflict"
    assert snapshot(app, "events", "dispatches", "contacts") == {"events": 1, "dispatches": planned, "contacts": 1}
    answer = json.loads(accepted[0])
    assert len(answer["dispatches"]) == planned
    assert all(d["status"] == "sent" for d in answer["dispatches"])
    # A later retry is a plain replay of that answer.
    status, payload, headers = _post_live(live_server, api_key, body, key)
    assert status == 202 and payload == accepted[0]
    assert headers.get("Idempotent-Replayed") == "true"


def test_concurrent_events_without_a_key_for_a_new_contact(app, api_key, live_server, web_trigger):
    body = json.dumps({"touchpoint": "order.delivered", "contact": {"external_id": "newcomer"}}).encode()
    results = _race(live_server, api_key, body, None, threads=6)
    statuses = [status for status, _, _ in results]
    # Without a key each is its own event; racing to create the one contact must not fail any of them.
    assert statuses == [202] * 6, [(s, b[:300]) for s, b, _ in results]
    assert len({json.loads(payload)["id"] for _, payload, _ in results}) == 6
    assert snapshot(app, "events", "dispatches", "contacts") == {"events": 6, "dispatches": 6, "contacts": 1}


def test_no_address_for_the_only_channel_is_suppressed(api, app):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["sms"])
    body = fire(api, external_id="no-phone", contact={"email": "x@example.com"})
    (dispatch,) = body["dispatches"]
    assert dispatch["status"] == "suppressed"
    assert dispatch["reason"] == "no_address"
    assert dispatch["channel"] == "sms"
    assert "url" not in dispatch


def test_first_reachable_channel_in_order_of_preference(api):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["telegram", "sms", "email", "web"])
    (dispatch,) = fire(api, external_id="c1", contact={"email": "x@example.com"})["dispatches"]
    assert dispatch["channel"] == "email" and dispatch["status"] == "scheduled"
    (dispatch,) = fire(api, external_id="c2", contact={"phone": "+905321234567", "email": "y@example.com"})["dispatches"]
    assert dispatch["channel"] == "sms"
    (dispatch,) = fire(api, external_id="c3")["dispatches"]
    assert dispatch["channel"] == "web" and dispatch["status"] == "sent"


def test_unknown_touchpoint_is_accepted_with_no_dispatches(api, app, web_trigger):
    body = fire(api, touchpoint="never.configured")
    assert isinstance(body["id"], int)
    assert body["dispatches"] == []
    assert snapshot(app, "events", "dispatches") == {"events": 1, "dispatches": 0}
    assert any(t["key"] == "never.configured" for t in ok(api.get("/touchpoints"), 200)["items"])


def test_occurred_at_without_zone_is_utc(api, survey):
    create_trigger(api, survey["id"], channels=["web"], delay_seconds=6 * 3600)
    base = (now() - timedelta(hours=1)).replace(microsecond=0)
    naive = base.replace(tzinfo=None).isoformat()
    zulu = base.isoformat().replace("+00:00", "Z")
    istanbul = base.replace(tzinfo=None).isoformat() + "+03:00"

    planned = {label: at(fire(api, external_id=label, occurred_at=value)["dispatches"][0]["scheduled_at"])
               for label, value in (("naive", naive), ("zulu", zulu), ("istanbul", istanbul))}

    assert planned["naive"] == base + timedelta(hours=6)
    assert planned["zulu"] == base + timedelta(hours=6)
    assert planned["istanbul"] == base + timedelta(hours=3)  # the same wall time at +03:00 is 3 hours earlier


def test_delay_seconds_pushes_scheduled_at(api, survey):
    create_trigger(api, survey["id"], channels=["sms"], delay_seconds=3600)
    before = now()
    (dispatch,) = fire(api, contact={"phone": "+905321234567"})["dispatches"]
    after = now()
    assert dispatch["status"] == "scheduled"
    scheduled = at(dispatch["scheduled_at"])
    assert before + timedelta(seconds=3600) - timedelta(seconds=1) <= scheduled <= after + timedelta(seconds=3600)


def test_a_past_occurrence_is_not_scheduled_in_the_past(api, survey):
    create_trigger(api, survey["id"], channels=["sms"], delay_seconds=60)
    before = now()
    (dispatch,) = fire(api, contact={"phone": "+905321234567"}, occurred_at="2020-01-01T00:00:00Z")["dispatches"]
    assert at(dispatch["scheduled_at"]) >= before - timedelta(seconds=1)


INVALID_EVENTS = [
    ({"contact": {"external_id": "c"}}, "touchpoint"),
    ({"touchpoint": "order.delivered"}, "contact"),
    ({"touchpoint": "order.delivered", "contact": {}}, "contact"),
    ({"touchpoint": "Order Delivered!", "contact": {"external_id": "c"}}, "touchpoint"),
    ({"touchpoint": "order.delivered", "contact": {"external_id": "c", "phone": "123"}}, "contact"),
    ({"touchpoint": "order.delivered", "contact": {"external_id": "c"}, "occurred_at": "yesterday"}, "occurred_at"),
    ({"touchpoint": "order.delivered", "contact": {"external_id": "c"}, "attributes": [1, 2]}, "attributes"),
    ({"touchpoint": "order.delivered", "contact": {"external_id": "c"}, "extra": 1}, "extra"),
    ({"touchpoint": "order.delivered", "contact": "c"}, "contact"),
]


def test_invalid_event_is_422_and_stores_nothing(api, app, web_trigger):
    def check(payload, field):
        before = snapshot(app, *EVENT_TABLES)
        error = error_of(api.post("/events", json=payload, headers={"Idempotency-Key": new_key()}), 422)
        assert field in error["fields"], error
        assert snapshot(app, *EVENT_TABLES) == before

    check_each(INVALID_EVENTS, check)
