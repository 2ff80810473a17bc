"""The audit log: every change an API key or a staff user makes, in the change's own transaction, with who, when,
what (field names, never values) and from where; refusals and the customers' own traffic leave no entry."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import AuditEntry
from tests.api.helpers import create_survey, create_trigger, error_of, fire, ok
from tests.console.staff import csrf, signed_in


def entries(api, **query) -> list[dict]:
    return ok(api.get("/audit", query_string=query), 200)["items"]


def key_id(app, api) -> int:
    from surveyd.services.access.api_keys import authenticate

    with app.app_context():
        found = authenticate(api.key)
        db.session.remove()
    return found


def test_changes_by_an_api_key_are_on_record_with_fields_but_no_values(app, api):
    me = f"api_key:{key_id(app, api)}"
    created = api.post("/surveys", json={"name": "Delivery NPS", "kind": "nps", "locales": ["en"]},
                       headers={"X-Request-Id": "req-create-1"})
    survey = ok(created, 201)
    assert created.headers["X-Request-Id"] == "req-create-1"
    changed = api.patch(f"/surveys/{survey['id']}", json={"name": "Secret-free rename"})
    ok(changed, 200)
    trigger = create_trigger(api, survey["id"])
    endpoint = ok(api.post("/webhook-endpoints", json={"url": "https://hooks.example.com/x?token=abc",
                                                        "events": ["response.created"]}), 201)

    log = entries(api)
    assert [(e["action"], e["target_id"]) for e in log] == [
        ("webhook_endpoint.created", str(endpoint["id"])), ("trigger.created", str(trigger["id"])),
        ("touchpoint.created", log[2]["target_id"]),  # a trigger's new touchpoint comes with it
        ("survey.changed", str(survey["id"])), ("survey.created", str(survey["id"]))]
    assert {e["actor"] for e in log} == {me}
    by_action = {e["action"]: e for e in log}
    assert "name" in by_action["survey.changed"]["detail"]["fields"]
    assert by_action["survey.changed"]["request_id"] == changed.headers["X-Request-Id"]
    assert by_action["survey.created"]["request_id"] == "req-create-1"
    assert by_action["survey.created"]["origin"] == "127.0.0.1"
    text = json.dumps(log)
    assert endpoint["secret"] not in text and "token=abc" not in text and "Secret-free rename" not in text


def test_customers_and_refusals_leave_no_entry(app, api, client):
    survey = create_survey(api)
    create_trigger(api, survey["id"])
    before = len(entries(api, limit=500))
    fire(api, "order.delivered", "c-1")  # the integrations' traffic is the events' own record, not the audit's
    assert error_of(api.patch(f"/surveys/{survey['id']}", json={"kind": "csat", "name": ""}), 422)
    assert api.post("/triggers", json={"survey_id": 999999, "touchpoint": "x"}).status_code in (404, 422)
    assert len(entries(api, limit=500)) == before


def test_a_console_users_changes_are_theirs(app, api):
    admin = signed_in(app, "admin")
    token = csrf(admin, "/console/users")
    made = admin.post("/console/users", data={"csrf_token": token, "email": "new@example.com", "role": "agent"})
    assert made.status_code in (200, 201)
    (entry,) = [e for e in entries(api, action="user") if e["action"] == "user.created"]
    assert entry["actor"].startswith("user:") and entry["actor"].endswith(":admin@example.com")
    assert entries(api, actor="user:")[0]["id"] == entry["id"]
    assert all(e["actor"].startswith("api_key:") for e in entries(api, actor="api_key:"))


def test_entries_page_and_filter(app, api):
    for number in range(5):
        create_survey(api, name=f"S{number}")
    first = ok(api.get("/audit", query_string={"limit": 2}), 200)
    second = ok(api.get("/audit", query_string={"limit": 2, "cursor": first["next_cursor"]}), 200)
    assert len(first["items"]) == len(second["items"]) == 2
    assert first["items"][-1]["id"] > second["items"][0]["id"]
    assert {e["action"] for e in entries(api, action="survey.created")} == {"survey.created"}
    assert entries(api, action="trigger") == []


@pytest.mark.parametrize("query", [{"since": "2026-10-02T00:00:00Z", "until": "2026-10-01T00:00:00Z"},
                                   {"action": "Survey Changed"}, {"action": "x" * 60}, {"cursor": "abc"},
                                   {"limit": 0}, {"limit": 501}, {"since": "yesterday"}])
def test_bad_queries_are_refused(api, query):
    assert error_of(api.get("/audit", query_string=query), 422)


def test_the_entry_is_written_in_the_changes_own_transaction(app, api):
    survey = create_survey(api)
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.target_type == "survey", AuditEntry.target_id == str(survey["id"])))
        db.session.remove()
    assert count == 1


def test_admins_read_the_log_in_the_console(app, api):
    create_survey(api, name="Watched")
    page = signed_in(app, "admin").get("/console/audit?action=survey")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "survey.created" in html and "api_key:" in html
    assert signed_in(app, "designer").get("/console/audit").status_code == 403
