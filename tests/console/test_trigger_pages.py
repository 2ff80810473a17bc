"""Triggers in the console: the list with pause and resume, the form (channel order moved with buttons,
conditions, every unit converted), refusals that change nothing, and the "what would happen" check."""
from __future__ import annotations

import re

import pytest

from tests.api.helpers import create_survey, create_trigger, ok, snapshot
from tests.console.form_fields import as_dict, form_fields
from tests.console.staff import csrf, signed_in

TABLES = ("triggers", "touchpoints", "surveys", "contacts", "events", "dispatches")


@pytest.fixture
def designer(app):
    return signed_in(app, "designer")


def page_fields(response) -> dict[str, list[str]]:
    return as_dict(form_fields(response.get_data(as_text=True), "trigger-form"))


def press(client, path: str, fields: dict, action: str):
    return client.post(path, data={**fields, "action": action})


def summary_links(html: str) -> list[str]:
    found = re.search(r'<div class="error-summary".*?</div>', html, re.S)
    assert found, "no error summary"
    return re.findall(r'href="#([^"]+)"', found.group(0))


def test_the_list_shows_channels_in_order_and_pauses_and_resumes(app, api, designer):
    survey = create_survey(api, locales=["en"])
    trigger = create_trigger(api, survey["id"], channels=["telegram", "sms"], delay_seconds=3600)
    html = designer.get("/console/triggers").get_data(as_text=True)
    row = re.search(r'<tr id="trigger-%d">.*?</tr>' % trigger["id"], html, re.S).group(0)
    assert re.search(r"<li>Telegram</li><li>SMS</li>", row) and "60 minutes after the event" in row
    token = csrf(designer, "/console/triggers")
    paused = designer.post(f"/console/triggers/{trigger['id']}/pause", data={"csrf_token": token, "enabled": "0"})
    assert paused.status_code == 302
    assert ok(api.get(f"/triggers/{trigger['id']}"), 200)["enabled"] is False
    assert "Paused" in designer.get("/console/triggers").get_data(as_text=True)
    # Refused: no token, a value other than 0 or 1, an unknown trigger.
    assert designer.post(f"/console/triggers/{trigger['id']}/pause", data={"enabled": "1"}).status_code == 400
    assert designer.post(f"/console/triggers/{trigger['id']}/pause",
                         data={"csrf_token": token, "enabled": "yes"}).status_code == 400
    assert ok(api.get(f"/triggers/{trigger['id']}"), 200)["enabled"] is False
    assert designer.post("/console/triggers/999999/pause", data={"csrf_token": token, "enabled": "1"}).status_code == 404
    designer.post(f"/console/triggers/{trigger['id']}/pause", data={"csrf_token": token, "enabled": "1"})
    assert ok(api.get(f"/triggers/{trigger['id']}"), 200)["enabled"] is True


def test_a_new_trigger_with_every_field_in_staff_units(app, api, designer):
    survey = create_survey(api, locales=["en"])
    fields = page_fields(designer.get("/console/triggers/new"))
    assert fields["channels"] == ["email"]
    fields.update({"touchpoint": ["ticket.closed"], "survey_id": [str(survey["id"])], "add-channel": ["sms"]})
    fields = page_fields(press(designer, "/console/triggers/new", fields, "add-channel"))
    assert fields["channels"] == ["email", "sms"]
    fields = page_fields(press(designer, "/console/triggers/new", fields, "up-channel-1"))
    assert fields["channels"] == ["sms", "email"]
    fields = page_fields(press(designer, "/console/triggers/new", fields, "add-condition"))
    fields.update({"delay": ["90"], "quiet_start": ["21:00"], "quiet_end": ["08:30"], "throttle_days": ["30"],
                   "sample": ["12.5"], "condition-0-field": ["contact.tier"], "condition-0-op": ["in"],
                   "condition-0-value": ["gold, silver"], "reminder_after": ["24"], "reminder_channel": ["email"],
                   "expire_days": ["7"]})
    assert snapshot(app, "triggers") == {"triggers": 0}  # the buttons saved nothing
    saved = press(designer, "/console/triggers/new", fields, "save")
    assert saved.status_code == 302
    (trigger,) = ok(api.get("/triggers"), 200)["items"]
    assert saved.headers["Location"].endswith(f"/console/triggers#trigger-{trigger['id']}")
    assert {key: trigger[key] for key in ("touchpoint", "channels", "delay_seconds", "quiet_hours", "throttle_days",
                                          "sample_rate", "conditions", "reminder", "expire_after_seconds",
                                          "enabled")} == {
        "touchpoint": "ticket.closed", "channels": ["sms", "email"], "delay_seconds": 5400,
        "quiet_hours": {"start": "21:00", "end": "08:30"}, "throttle_days": 30, "sample_rate": 0.125,
        "conditions": [{"field": "contact.tier", "op": "in", "value": ["gold", "silver"]}],
        "reminder": {"after_seconds": 86400, "channel": "email"}, "expire_after_seconds": 7 * 86400,
        "enabled": True,
    }


def test_editing_reorders_removes_and_clears_and_reads_back_in_staff_units(app, api, designer):
    survey = create_survey(api, locales=["en"])
    trigger = create_trigger(api, survey["id"], channels=["telegram", "sms", "email"], delay_seconds=90,
                             quiet_hours={"start": "22:00", "end": "07:00"}, sample_rate=0.5,
                             conditions=[{"field": "event.amount", "op": "gte", "value": 10.5},
                                         {"field": "contact.vip", "op": "exists"}])
    path = f"/console/triggers/{trigger['id']}"
    fields = page_fields(designer.get(path))
    assert (fields["delay"], fields["sample"], fields["condition-0-value"], fields["condition-1-value"]) == (
        ["1.5"], ["50"], ["10.5"], [""])
    assert fields["enabled"] == ["1"]
    fields = page_fields(press(designer, path, fields, "down-channel-0"))
    fields = page_fields(press(designer, path, fields, "remove-channel-2"))
    fields = page_fields(press(designer, path, fields, "remove-condition-0"))
    fields.update({"quiet_start": [""], "quiet_end": [""]})
    assert press(designer, path, fields, "save").status_code == 302
    after = ok(api.get(f"/triggers/{trigger['id']}"), 200)
    assert after["channels"] == ["sms", "telegram"] and after["quiet_hours"] is None
    assert after["conditions"] == [{"field": "contact.vip", "op": "exists"}]
    assert (after["delay_seconds"], after["sample_rate"], after["enabled"]) == (90, 0.5, True)


@pytest.mark.parametrize("change, field", [
    ({"touchpoint": ["Not A Key!"]}, "touchpoint"),
    ({"survey_id": [""]}, "survey_id"),
    ({"survey_id": ["999999"]}, "survey_id"),
    ({"channels": []}, "add-channel"),
    ({"delay": ["soon"]}, "delay"),
    ({"delay": ["-5"]}, "delay"),
    ({"sample": ["150"]}, "sample"),
    ({"sample": ["nan"]}, "sample"),
    ({"quiet_start": ["21:00"], "quiet_end": [""]}, "quiet_end"),
    ({"quiet_start": ["25:00"], "quiet_end": ["08:00"]}, "quiet_start"),
    ({"throttle_days": ["1.5"]}, "throttle_days"),
    ({"reminder_after": ["0.001"]}, "reminder_after"),
    ({"expire_days": ["0.0001"]}, "expire_days"),
    ({"condition-count": ["1"], "condition-0-field": ["event.amount"], "condition-0-op": ["gt"],
      "condition-0-value": ["ten"]}, "condition-0-value"),
    ({"condition-count": ["1"], "condition-0-field": ["amount"], "condition-0-op": ["equals"],
      "condition-0-value": ["1"]}, "condition-0-field"),
])
def test_a_refused_trigger_points_at_its_field_and_changes_nothing(app, api, designer, change, field):
    survey = create_survey(api, locales=["en"])
    trigger = create_trigger(api, survey["id"], channels=["email"])
    path = f"/console/triggers/{trigger['id']}"
    fields = page_fields(designer.get(path))
    before = snapshot(app, *TABLES)
    response = press(designer, path, {**fields, **change}, "save")
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:2000]
    assert field in summary_links(html), (summary_links(html), change)
    assert f'id="{field}"' in html
    assert snapshot(app, *TABLES) == before
    assert ok(api.get(f"/triggers/{trigger['id']}"), 200) == trigger


def test_the_form_refuses_a_post_without_its_token_an_unknown_button_and_an_unknown_trigger(app, api, designer):
    survey = create_survey(api, locales=["en"])
    trigger = create_trigger(api, survey["id"], channels=["email"])
    path = f"/console/triggers/{trigger['id']}"
    fields = page_fields(designer.get(path))
    fields["delay"] = ["5"]
    no_token = {key: value for key, value in fields.items() if key != "csrf_token"}
    assert press(designer, path, no_token, "save").status_code == 400
    assert press(designer, "/console/triggers/new", no_token, "save").status_code == 400
    assert press(designer, path, fields, "rm -rf").status_code == 400
    assert ok(api.get(f"/triggers/{trigger['id']}"), 200) == trigger
    assert designer.get("/console/triggers/999999").status_code == 404
    assert press(designer, "/console/triggers/999999", fields, "save").status_code == 404


def test_the_check_shows_each_triggers_plan_and_writes_nothing(app, api, designer):
    survey = create_survey(api, name="Delivery NPS", locales=["en", "fa"])
    create_trigger(api, survey["id"], channels=["telegram", "sms"])
    create_trigger(api, survey["id"], channels=["email"], conditions=[{"field": "event.amount", "op": "gte",
                                                                       "value": 100}])
    api.put("/contacts/ada", json={"name": "Ada", "phone": "+905321234567", "email": "ada@example.com",
                                   "locale": "fa", "timezone": "Asia/Tehran"})
    assert designer.get("/console/triggers/check").status_code == 200
    before = snapshot(app, *TABLES)
    html = designer.get("/console/triggers/check", query_string={
        "run": "1", "touchpoint": "order.delivered", "contact": "ada", "attributes": "amount=20\ncity=Tabriz",
        "at": "2026-06-01T10:00"}).get_data(as_text=True)
    plans = re.findall(r'<tr data-status="(\w+)" data-reason="(\w*)" data-channel="(\w+)">', html)
    assert plans == [("scheduled", "", "sms"), ("suppressed", "condition", "email")]
    assert "(Asia/Tehran)" in html and "event.amount gte 100" in html
    typed = designer.get("/console/triggers/check", query_string={
        "run": "1", "touchpoint": "order.delivered", "email": "x@example.com", "attributes": "amount=150"})
    assert re.findall(r'data-status="(\w+)" data-reason="(\w*)" data-channel="(\w+)"', typed.get_data(as_text=True)) \
        == [("suppressed", "no_address", "telegram"), ("scheduled", "", "email")]
    assert snapshot(app, *TABLES) == before


@pytest.mark.parametrize("query, field", [
    ({"touchpoint": ""}, "touchpoint"),
    ({"touchpoint": "nobody.listens"}, "touchpoint"),
    ({"touchpoint": "order.delivered", "contact": "nobody"}, "contact"),
    ({"touchpoint": "order.delivered", "attributes": "no equals sign"}, "attributes"),
    ({"touchpoint": "order.delivered", "at": "yesterday"}, "at"),
])
def test_the_check_refuses_what_it_cannot_read(app, api, designer, query, field):
    survey = create_survey(api, locales=["en"])
    create_trigger(api, survey["id"], channels=["email"])
    response = designer.get("/console/triggers/check", query_string={"run": "1", **query})
    assert response.status_code == 400
    assert field in summary_links(response.get_data(as_text=True))


def test_agents_cannot_reach_triggers(app):
    agent = signed_in(app, "agent")
    for path in ("/console/triggers", "/console/triggers/new", "/console/triggers/check"):
        assert agent.get(path).status_code == 403
