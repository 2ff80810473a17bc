"""Alert targets as designers give them, and alerts as agents work them: activity, root cause, resolution."""
from __future__ import annotations

import pytest

from tests.api.helpers import create_survey, create_trigger, error_of, ok, survey_answer


def notify(url: str, channel: str = "webhook") -> dict:
    return {"alert": {"notify": [{"channel": channel, "url": url}]}}


@pytest.mark.parametrize(("url", "field_says"), [
    ("http://169.254.169.254/latest/meta-data/", None),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://localhost:6379/", "this machine"),
    ("https://api.localhost/hook", "this machine"),
    ("http://hooks.example.com/x", "https://"),
    ("https://127.0.0.1/hook", "this machine"),
    ("https://[::1]/hook", "this machine"),
    ("https://10.1.2.3/hook", "private"),
    ("https://192.168.0.10/hook", "private"),
    ("https://user:secret@hooks.example.com/x", "user and password"),
    ("ftp://hooks.example.com/x", None),
])
def test_a_target_url_surveyd_would_not_call_is_refused_at_input(api, url, field_says):
    for channel in ("webhook", "slack"):
        response = api.post("/surveys", json={"name": "S", "kind": "nps", **notify(url, channel)})
        error = error_of(response, 422)
        assert error["fields"], error
        if field_says:
            assert field_says in " ".join(error["fields"]["alert.notify.0.url"])
    assert ok(api.get("/surveys"), 200)["items"] == []  # nothing was created


def test_an_escalation_target_is_checked_like_a_notify_target(api):
    body = {"name": "S", "kind": "nps", "alert": {"sla_minutes": 60, "escalate": [
        {"channel": "slack", "url": "https://10.0.0.5/services/x"}]}}
    assert "alert.escalate.0.url" in error_of(api.post("/surveys", json=body), 422)["fields"]


def test_a_slack_url_is_never_read_back(api):
    url = "https://hooks.slack.com/services/T0001/B0002/XXXXsecretXXXX"
    survey = ok(api.post("/surveys", json={"name": "S", "kind": "csat", **notify(url, "slack")}), 201)
    for body in (survey, ok(api.get(f"/surveys/{survey['id']}"), 200), ok(api.get("/surveys"), 200)["items"][0]):
        (target,) = body["alert"]["notify"]
        assert target == {"channel": "slack", "url": "https://hooks.slack.com/…"}
    assert "secret" not in api.get("/surveys").get_data(as_text=True)


@pytest.mark.parametrize(("alert", "field"), [
    ({"notify": [{"channel": "email", "to": "a@example.com", "when": {"score_max": 11}}]}, "alert.notify.0.when.score_max"),
    ({"notify": [{"channel": "email", "to": "a@example.com", "locale": "de"}]}, "alert.notify.0.locale"),
    ({"notify": [{"channel": "slack"}]}, "alert"),
    ({"sla_minutes": 0}, "alert"),
    ({"sla_minutes": 1.5}, "alert"),
])
def test_bad_alert_rules_are_refused(api, alert, field):
    error = error_of(api.post("/surveys", json={"name": "S", "kind": "nps", "alert": alert}), 422)
    assert any(key.startswith(field) for key in error["fields"]), error


@pytest.fixture
def alert(api, client) -> dict:
    survey = create_survey(api, kind="nps", locales=["en"], alert={
        "sla_minutes": 120, "notify": [{"channel": "email", "to": "agents@example.com"}]})
    create_trigger(api, survey["id"])
    survey_answer(api, client, 2, external_id="unhappy")
    (item,) = ok(api.get("/alerts"), 200)["items"]
    return item


def test_an_alert_shows_its_sla_activity_and_delivery_log(api, alert):
    detail = ok(api.get(f"/alerts/{alert['id']}"), 200)
    assert detail["due_at"] and detail["escalated"] is False and detail["root_cause"] is None
    assert [a["action"] for a in detail["activity"]] == ["raised"]
    assert detail["activity"][0]["actor"] == "system"
    (delivery,) = detail["deliveries"]
    assert (delivery["channel"], delivery["to"], delivery["event"]) == ("email", "agents@example.com", "created")


def test_agents_work_an_alert_and_every_step_is_in_its_activity(api, alert):
    path = f"/alerts/{alert['id']}"
    ok(api.patch(path, json={"status": "claimed", "assignee": "agent@example.com"}), 200)
    ok(api.patch(path, json={"status": "contacted", "note": "Called, left a voicemail"}), 200)
    done = ok(api.patch(path, json={"status": "resolved", "root_cause": "delivery",
                                    "resolution": "Courier briefed; voucher sent"}), 200)
    assert (done["status"], done["root_cause"], done["resolution"]) == ("resolved", "delivery",
                                                                        "Courier briefed; voucher sent")
    actions = [(a["action"], a["actor"].split(":")[0]) for a in done["activity"]]
    assert actions == [("raised", "system"), ("assigned", "api_key"), ("claimed", "api_key"),
                       ("contacted", "api_key"), ("note", "api_key"), ("resolved", "api_key"),
                       ("root_cause", "api_key"), ("resolution", "api_key")]
    reopened = ok(api.patch(path, json={"status": "open"}), 200)
    assert reopened["activity"][-1]["action"] == "reopened"


def test_an_unknown_root_cause_changes_nothing(api, alert):
    path = f"/alerts/{alert['id']}"
    error = error_of(api.patch(path, json={"status": "resolved", "root_cause": "gremlins"}), 422)
    assert "delivery" in error["fields"]["root_cause"][0]
    detail = ok(api.get(path), 200)
    assert detail["status"] == "open" and [a["action"] for a in detail["activity"]] == ["raised"]


def test_malformed_and_unknown_alert_changes_are_refused(api, alert):
    path = f"/alerts/{alert['id']}"
    assert api.patch(path, data="{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert api.patch(path, json={"root_cause": "x" * 65}).status_code == 422
    assert api.patch("/alerts/999999", json={"note": "x"}).status_code == 404
    assert [a["action"] for a in ok(api.get(path), 200)["activity"]] == ["raised"]


def test_an_assignee_who_is_a_staff_user_is_linked(api, alert, app):
    from surveyd.extensions import db
    from surveyd.models import Alert
    from surveyd.services.access.users import create_user

    with app.app_context():
        user = create_user("Agent@Example.com", "agent", "a long enough password")
        user_id = user.id
    ok(api.patch(f"/alerts/{alert['id']}", json={"status": "claimed", "assignee": "agent@example.com"}), 200)
    with app.app_context():
        assert db.session.get(Alert, alert["id"]).assignee_user_id == user_id
    ok(api.patch(f"/alerts/{alert['id']}", json={"assignee": "someone-outside@example.com"}), 200)
    with app.app_context():
        assert db.session.get(Alert, alert["id"]).assignee_user_id is None
