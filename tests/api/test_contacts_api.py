"""Contacts over the API: create or update, consent per channel, the timeline, opting out."""
from __future__ import annotations

from tests.api.helpers import (
    answer,
    check_each,
    create_survey,
    create_trigger,
    error_of,
    fire,
    ok,
    snapshot,
    web_dispatch,
)

CHANNELS = {"sms", "email", "telegram", "web"}
FULL = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "phone": "+447700900123",
    "telegram_chat_id": "123456789",
    "locale": "tr-TR",
    "timezone": "Europe/Istanbul",
    "attributes": {"tier": "gold", "orders": 3},
}


def test_put_creates_then_updates(api):
    created = api.put("/contacts/cust-1", json=FULL)
    body = ok(created, 201)
    assert body["external_id"] == "cust-1"
    for field, value in FULL.items():
        assert body[field] == value, field
    assert body["created_at"] and body["updated_at"]
    assert set(body["consent"]) == CHANNELS

    # Omitted fields stay; null clears; given fields change.
    updated = ok(api.put("/contacts/cust-1", json={"name": "Ada King", "phone": None}), 200)
    assert updated["name"] == "Ada King"
    assert updated["phone"] is None
    for field in ("email", "telegram_chat_id", "locale", "timezone", "attributes"):
        assert updated[field] == FULL[field], field
    assert updated["created_at"] == body["created_at"]

    read = ok(api.get("/contacts/cust-1"), 200)
    assert read["name"] == "Ada King" and read["phone"] is None and read["email"] == FULL["email"]
    assert read["consent"]["sms"]["reachable"] is False
    assert read["consent"]["email"]["reachable"] is True


def test_put_with_an_empty_body_creates_a_bare_contact(api):
    body = ok(api.put("/contacts/bare", json={}), 201)
    assert body["external_id"] == "bare"
    assert body["email"] is None and body["phone"] is None
    assert body["attributes"] == {}
    assert ok(api.put("/contacts/bare", json={}), 200)["external_id"] == "bare"


def test_attributes_are_replaced_as_a_whole_and_null_clears_them(api):
    ok(api.put("/contacts/c", json={"attributes": {"a": 1, "b": 2}}), 201)
    assert ok(api.put("/contacts/c", json={"attributes": {"c": 3}}), 200)["attributes"] == {"c": 3}
    assert ok(api.put("/contacts/c", json={"attributes": None}), 200)["attributes"] == {}


INVALID = [
    ("phone", "05321234567"),
    ("phone", "+0123456789"),
    ("phone", "+90 532 123 45 67"),
    ("phone", "+12"),
    ("email", "not-an-email"),
    ("email", "ada@"),
    ("timezone", "Mars/Olympus_Mons"),
    ("timezone", "GMT+3 please"),
    ("locale", "english please"),
    ("telegram_chat_id", "@ada"),
    ("name", 42),
    ("attributes", ["not", "an", "object"]),
    ("consent", {"sms": "maybe"}),
    ("consent", {"fax": "opted_out"}),
]


def test_invalid_field_is_422_and_nothing_changes(api, app):
    original = ok(api.put("/contacts/cust-1", json=FULL), 201)

    def check(field, value):
        before = snapshot(app, "contacts", "consents")
        error = error_of(api.put("/contacts/cust-1", json={"name": "Changed", field: value}), 422)
        assert error["code"] == "invalid"
        assert field in error["fields"], error
        assert snapshot(app, "contacts", "consents") == before
        read = ok(api.get("/contacts/cust-1"), 200)
        assert {k: read[k] for k in FULL} == {k: original[k] for k in FULL}
        # A new contact is not created by a refused PUT either.
        error_of(api.put("/contacts/cust-2", json={field: value}), 422)
        assert error_of(api.get("/contacts/cust-2"), 404)["code"] == "not_found"

    check_each(INVALID, check)


def test_unknown_contact_is_404(api):
    assert error_of(api.get("/contacts/nobody"), 404)["code"] == "not_found"


def test_external_ids_with_slashes_and_unicode(api):
    ok(api.put("/contacts/shop/42", json={"name": "Slash"}), 201)
    assert ok(api.get("/contacts/shop/42"), 200)["name"] == "Slash"
    ok(api.put("/contacts/müşteri-7", json={"name": "Unicode"}), 201)
    assert ok(api.get("/contacts/müşteri-7"), 200)["external_id"] == "müşteri-7"


def test_consent_per_channel(api):
    body = ok(api.put("/contacts/c1", json={"email": "c1@example.com"}), 201)
    consent = body["consent"]
    assert set(consent) == CHANNELS
    assert all(c["state"] == "opted_in" for c in consent.values())
    assert consent["email"]["reachable"] is True
    assert consent["web"]["reachable"] is True
    assert consent["sms"]["reachable"] is False
    assert consent["telegram"]["reachable"] is False

    body = ok(api.put("/contacts/c1", json={"consent": {"email": "opted_out"}}), 200)
    assert body["consent"]["email"]["state"] == "opted_out"
    assert body["consent"]["email"]["source"] == "api"
    assert body["consent"]["email"]["changed_at"]
    assert body["consent"]["sms"]["state"] == "opted_in"
    assert ok(api.get("/contacts/c1"), 200)["consent"]["email"]["state"] == "opted_out"

    body = ok(api.put("/contacts/c1", json={"consent": {"email": "opted_in"}}), 200)
    assert body["consent"]["email"]["state"] == "opted_in"


def test_timeline_shows_dispatch_response_and_alert(api, client):
    survey = create_survey(api, kind="nps", locales=["en"])
    create_trigger(api, survey["id"])
    ok(api.put("/contacts/cust-1", json={"name": "Ada"}), 201)
    assert ok(api.get("/contacts/cust-1"), 200)["timeline"] == []

    dispatch = web_dispatch(fire(api, external_id="cust-1"))
    timeline = ok(api.get("/contacts/cust-1"), 200)["timeline"]
    assert [(i["type"], i["id"]) for i in timeline] == [("dispatch", dispatch["id"])]
    assert timeline[0]["status"] == "sent" and timeline[0]["channel"] == "web"
    assert timeline[0]["survey_id"] == survey["id"]

    answer(client, dispatch["url"], 2, improve="Late and rude")
    timeline = ok(api.get("/contacts/cust-1"), 200)["timeline"]
    by_type = {item["type"]: item for item in timeline}
    assert set(by_type) == {"dispatch", "response", "alert"}
    assert len(timeline) == 3
    assert by_type["dispatch"]["status"] == "answered"
    assert by_type["response"]["score"] == 2 and by_type["response"]["completed"] is True
    assert by_type["alert"]["status"] == "open"
    # Newest first.
    stamps = [item["at"] for item in timeline]
    assert stamps == sorted(stamps, reverse=True)


def test_opted_out_contact_gets_a_suppressed_dispatch(api, app):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["sms"])
    ok(api.put("/contacts/cust-1", json={"phone": "+905321234567", "consent": {"sms": "opted_out"}}), 201)

    body = fire(api, external_id="cust-1")

    (dispatch,) = body["dispatches"]
    assert dispatch["channel"] == "sms"
    assert dispatch["status"] == "suppressed"
    assert dispatch["reason"] == "opted_out"
    assert "url" not in dispatch
    detail = ok(api.get(f"/dispatches/{dispatch['id']}"), 200)
    assert [(h["status"], h["reason"]) for h in detail["history"]] == [("suppressed", "opted_out")]
    # And nothing went to the sandbox inbox.
    from surveyd.services.dispatch.sending import send_due

    with app.app_context():
        assert send_due() == 0
    assert snapshot(app, "sandbox_messages")["sandbox_messages"] == 0


def test_opting_out_through_an_event_contact(api):
    survey = create_survey(api, kind="csat", locales=["en"])
    create_trigger(api, survey["id"], channels=["sms", "web"])
    body = fire(api, external_id="cust-9", contact={"phone": "+905321234567", "consent": {"sms": "opted_out"}})
    (dispatch,) = body["dispatches"]
    # The fallback channel is used when the preferred one is opted out.
    assert dispatch["channel"] == "web" and dispatch["status"] == "sent"
    contact = ok(api.get("/contacts/cust-9"), 200)
    assert contact["consent"]["sms"]["state"] == "opted_out"
    assert contact["consent"]["sms"]["source"] == "event"


def test_a_telegram_link_needs_the_bots_username(api):
    api.put("/contacts/cust-1", json={"name": "Ada"})
    response = api.post("/contacts/cust-1/telegram-link", json={})
    assert response.status_code == 409
    assert "SURVEYD_TELEGRAM_BOT_USERNAME" in response.json["error"]["message"]
