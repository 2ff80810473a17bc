"""The alert inbox and one alert's page: filters, claim, reply to the customer, resolve with a root cause."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, Notification
from tests.api.helpers import create_survey, create_trigger, survey_answer
from tests.console.staff import csrf, signed_in


@pytest.fixture
def alert_id(api, client, app) -> int:
    survey = create_survey(api, kind="nps", locales=["en"], name="Delivery NPS")
    create_trigger(api, survey["id"], channels=["web"])
    assert api.put("/contacts/cust-42", json={"name": "Ada Lovelace", "email": "ada@example.com"}).status_code in (
        200, 201)
    survey_answer(api, client, 2, external_id="cust-42")
    with app.app_context():
        found = db.session.scalar(sa.select(Alert.id))
        db.session.remove()
    return found


def alert(app, alert_id: int) -> Alert:
    with app.app_context():
        row = db.session.get(Alert, alert_id)
        db.session.expunge(row)
        db.session.remove()
        return row


def test_the_inbox_lists_the_alert_and_its_filters_narrow_it(app, alert_id):
    agent = signed_in(app, "agent")
    page = agent.get("/console/alerts").get_data(as_text=True)
    assert f'href="/console/alerts/{alert_id}"' in page and "Ada Lovelace" in page and "1 alert<" in page
    assert ">0 alerts<" in agent.get("/console/alerts?status=resolved").get_data(as_text=True)
    assert "1 alert<" in agent.get("/console/alerts?assignee=none&status=open").get_data(as_text=True)
    assert ">0 alerts<" in agent.get("/console/alerts?assignee=me").get_data(as_text=True)
    assert "1 alert<" in agent.get("/console/alerts?status=bogus&survey=x").get_data(as_text=True)  # ignored
    assert "1 alert<" in agent.get("/console/alerts?touchpoint=order.delivered").get_data(as_text=True)
    assert ">0 alerts<" in agent.get("/console/alerts?touchpoint=ticket.closed").get_data(as_text=True)


def test_an_agent_claims_replies_and_resolves(app, alert_id):
    agent = signed_in(app, "agent")
    path = f"/console/alerts/{alert_id}"
    page = agent.get(path).get_data(as_text=True)
    assert "Delivery NPS" in page and "Message to the customer (sent by email)" in page
    token = csrf(agent, path)
    claimed = agent.post(f"{path}/claim", data={"csrf_token": token}, follow_redirects=True)
    assert "You hold this alert now." in claimed.get_data(as_text=True)
    assert (alert(app, alert_id).status, alert(app, alert_id).assignee) == (AlertStatus.CLAIMED, "agent@example.com")
    replied = agent.post(f"{path}/reply", data={"csrf_token": token, "text": "Sorry, a new one is on its way."},
                         follow_redirects=True)
    assert "Your message is on its way" in replied.get_data(as_text=True)
    assert alert(app, alert_id).status == AlertStatus.CONTACTED
    with app.app_context():
        (reply,) = db.session.scalars(sa.select(Notification).where(Notification.event == "reply"))
        assert (reply.channel, reply.target["to"]) == ("email", "ada@example.com")
        db.session.remove()
    resolved = agent.post(f"{path}/resolve", data={"csrf_token": token, "root_cause": "delivery",
                                                   "resolution": "Sent a replacement."}, follow_redirects=True)
    assert "The alert is resolved." in resolved.get_data(as_text=True)
    done = alert(app, alert_id)
    assert (done.status, done.root_cause, done.resolution) == (AlertStatus.RESOLVED, "delivery", "Sent a replacement.")
    with app.app_context():
        actions = [(a.actor, a.action) for a in db.session.get(Alert, alert_id).activity]
        db.session.remove()
    assert ("user:agent@example.com", "claimed") in actions and ("user:agent@example.com", "resolved") in actions


def test_resolving_without_a_root_cause_is_refused_and_changes_nothing(app, alert_id):
    agent = signed_in(app, "agent")
    path = f"/console/alerts/{alert_id}"
    token = csrf(agent, path)
    for cause in ("", "not-a-cause"):
        response = agent.post(f"{path}/resolve", data={"csrf_token": token, "root_cause": cause})
        assert response.status_code == 400
        assert "Choose a root cause to resolve the alert." in response.get_data(as_text=True)
    assert alert(app, alert_id).status == AlertStatus.OPEN


def test_a_form_without_its_token_or_an_empty_reply_changes_nothing(app, alert_id):
    agent = signed_in(app, "agent")
    path = f"/console/alerts/{alert_id}"
    for action, data in (("claim", {}), ("resolve", {"root_cause": "delivery"}), ("reply", {"text": "hello"})):
        response = agent.post(f"{path}/{action}", data=data)
        assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    empty = agent.post(f"{path}/reply", data={"csrf_token": csrf(agent, path), "text": "   "})
    assert empty.status_code == 400 and "Write the message first." in empty.get_data(as_text=True)
    assert alert(app, alert_id).status == AlertStatus.OPEN
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.event == "reply")) == 0
        db.session.remove()


def test_claiming_a_resolved_alert_is_refused_with_the_reason(app, alert_id):
    agent = signed_in(app, "agent")
    path = f"/console/alerts/{alert_id}"
    token = csrf(agent, path)
    agent.post(f"{path}/resolve", data={"csrf_token": token, "root_cause": "delivery"})
    response = agent.post(f"{path}/claim", data={"csrf_token": token})
    assert response.status_code == 409 and "The alert could not be claimed." in response.get_data(as_text=True)


def test_an_unknown_alert_is_a_404(app):
    agent = signed_in(app, "agent")
    assert agent.get("/console/alerts/424242").status_code == 404
    assert agent.post("/console/alerts/424242/claim", data={"csrf_token": csrf(agent, "/console/")}).status_code == 404


def test_the_dashboard_shows_each_survey_with_its_n(app, alert_id):
    page = signed_in(app, "designer").get("/console/").get_data(as_text=True)
    assert "Delivery NPS" in page and "open alerts" in page


def test_the_sla_shows_as_a_countdown_then_as_overdue(api, client, app):
    survey = create_survey(api, kind="nps", locales=["en"], name="SLA NPS", alert={"sla_minutes": 30})
    create_trigger(api, survey["id"], channels=["web"])
    survey_answer(api, client, 1, external_id="cust-sla")
    agent = signed_in(app, "agent")
    assert "in 30 minutes" in agent.get("/console/alerts").get_data(as_text=True)
    with app.app_context():
        alert = db.session.scalar(sa.select(Alert))
        alert.due_at = alert.created_at - timedelta(minutes=5)
        db.session.commit()
        db.session.remove()
    page = agent.get("/console/alerts?overdue=1").get_data(as_text=True)
    assert "overdue" in page and "1 alert<" in page
