"""The sandbox's Agents view: agents' messages apart from customers', Claim and Resolve tapped as the linked
staff account, Slack and webhook requests kept instead of sent, and the demo's alerts."""
from __future__ import annotations

import json
import logging
import re
from html import unescape

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from bots.channel import OutboundMessage
from bots.slack_webhook import SlackWebhookChannel
from bots.webhook_http import SignedWebhookChannel
from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import (
    Alert,
    AlertStatus,
    Contact,
    Notification,
    SandboxMessage,
    Survey,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from surveyd.models.sandbox_message import OutboundChannel
from surveyd.services.alerts import notifying, rendering
from surveyd.services.dispatch import channels, sending
from surveyd.services.integrations import delivering, endpoints
from surveyd.services.sandbox.agents import STAFF_TELEGRAM_USER_ID
from surveyd.services.sandbox.demo import seed_demo
from tests import factories
from tests.conftest import make_env
from tests.fakes.http_receiver import HttpReceiver
from tests.web.agent_alerts import (
    AGENT_CHAT,
    agent_articles,
    alert_buttons,
    linked_agent,
    notify_agents,
    staff,
    unhappy_answer,
)
from surveyd.services.access import passwords
from tests.console.staff import sandbox_staff
from tests.web.pages import inside, parse, path_of  # noqa: F401 (inside is a fixture)

AGENTS = [{"channel": "email", "to": "agents@example.com"}, {"channel": "telegram", "chat_id": AGENT_CHAT}]


@pytest.fixture
def client(app):
    """A staff member's browser: the sandbox needs a signed-in user and CSRF tokens outside --demo."""
    return sandbox_staff(app)


def _agents_view(client) -> str:
    response = client.get("/sandbox?view=agents")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _customer_email_then_an_alert() -> int:
    """A customer's email invitation in the sandbox, answered unhappily on a survey that tells agents."""
    survey = factories.survey(name="Delivery NPS", locales=["en"], alert={"notify": AGENTS})
    factories.trigger(survey.id, channels=["email"])
    factories.contact("cust-1", name="Ada Lovelace")
    factories.event(external_id="cust-1")
    assert sending.send_due() == 1
    return unhappy_answer(AGENTS, external_id="cust-2")


def test_agent_messages_leave_the_customer_lists_and_show_on_the_agents_view(client, inside):
    alert_id = inside(_customer_email_then_an_alert)
    assert inside(notify_agents, alert_id) == ["sent", "sent"]

    customers = client.get("/sandbox").get_data(as_text=True)
    page = parse(customers)
    assert [e.attrs["data-channel"] for e in page.elements if e.tag == "article"] == ["email"]
    assert "to ada@example.com" in page.text and "agents@example.com" not in page.text
    assert AGENT_CHAT not in customers and "No Telegram messages yet." in page.text
    assert "Agents (2)" in page.text  # the tab says what waits on the other side

    html = _agents_view(client)
    page = parse(html)
    assert page.all("a", **{"aria-current": "page"})[0].attrs["href"] == "/sandbox?view=agents"
    articles = agent_articles(html)
    assert [(a["channel"], a["audience"], a["alert"]) for a in articles] == [
        ("telegram", "agent", str(alert_id)), ("email", "agent", str(alert_id))]  # newest first
    assert "to agents@example.com" in page.text and f"to {AGENT_CHAT}" in page.text
    assert "to ada@example.com" not in page.text  # the customer's invitation stays on its side
    (frame,) = page.all("iframe")
    assert "Ada Lovelace" in frame.attrs["srcdoc"] and "allow-scripts" not in frame.attrs["sandbox"]
    # Telegram's HTML mode rendered: its bold kept, the customer's words as text, the buttons under it
    assert re.search(r'<div class="bubble telegram agent-chat" dir="auto"><b>[^<]*Ada Lovelace', html)
    assert "“It came broken”" in page.text
    assert sorted(alert_buttons(html)) == [f"Claim alert #{alert_id}", f"Resolve alert #{alert_id}"]
    # the alert beside them, with its activity and notifications
    assert len([e for e in page.elements if e.tag == "article" and e.attrs.get("data-alert") == str(alert_id)
                and "alert-card" in e.attrs.get("class", "")]) == 1
    assert "raised · system" in page.text and "created · email agents@example.com · sent after 1 try" in page.text


def test_a_claim_tap_acts_as_the_linked_agent_and_edits_the_message(client, inside):
    inside(linked_agent)
    alert_id = inside(unhappy_answer, [AGENTS[1]])
    inside(notify_agents, alert_id)
    html = _agents_view(client)
    assert "linked to <strong>agent@demo.test</strong>" in html
    claim = alert_buttons(html)[f"Claim alert #{alert_id}"]
    assert claim["chat"] == AGENT_CHAT

    tapped = client.post("/sandbox/agents/telegram/tap", data=claim)
    assert tapped.status_code == 302
    assert tapped.headers["Location"].endswith(f"#message-{claim['message_id']}")
    html = client.get(path_of(tapped.headers["Location"])).get_data(as_text=True)
    assert "Telegram shows the tapper: “You hold this alert now.”" in parse(html).text

    def claimed():
        alert = db.session.get(Alert, alert_id)
        return alert.status, alert.assignee, [(e.actor, e.action) for e in alert.activity if e.actor != "system"]

    assert inside(claimed) == (AlertStatus.CLAIMED, "agent@demo.test", [
        ("user:agent@demo.test", "assigned"), ("user:agent@demo.test", "claimed")])
    # the same message, edited: who holds it now, and only Resolve left
    message = inside(lambda: db.session.get(SandboxMessage, int(claim["message_id"])).text)
    assert "Assignee: agent@demo.test" in message and "Status: Claimed" in message
    buttons = alert_buttons(html)
    assert sorted(buttons) == [f"Resolve alert #{alert_id}"]

    client.post("/sandbox/agents/telegram/tap", data=buttons[f"Resolve alert #{alert_id}"])
    assert inside(lambda: db.session.get(Alert, alert_id).status) == AlertStatus.RESOLVED
    assert alert_buttons(_agents_view(client)) == {}


def test_a_tap_from_the_unlinked_sandbox_account_changes_nothing_and_says_so(client, inside):
    alert_id = inside(unhappy_answer, [AGENTS[1]])
    inside(notify_agents, alert_id)
    html = _agents_view(client)
    assert "which no staff user is linked to" in html
    tapped = client.post("/sandbox/agents/telegram/tap", data=alert_buttons(html)[f"Claim alert #{alert_id}"])
    page = parse(client.get(path_of(tapped.headers["Location"])).get_data(as_text=True))
    assert "is not linked to a surveyd user, so this changed nothing" in page.text
    assert inside(lambda: db.session.get(Alert, alert_id).status) == AlertStatus.OPEN
    assert len(alert_buttons(_agents_view(client))) == 2


@pytest.mark.parametrize("form", [{}, {"chat": "not-a-chat", "message_id": "1", "data": "k:1:c:en:x"}])
def test_a_malformed_agent_tap_is_refused_with_an_error(client, form):
    response = client.post("/sandbox/agents/telegram/tap", data=form, follow_redirects=True)
    page = parse(response.get_data(as_text=True))
    assert [e for e in page.elements if e.attrs.get("role") == "alert"]
    assert "Tap a button of a Telegram message." in page.text


# --- Slack and webhooks: kept in the sandbox, never sent ---------------------------------------


@pytest.fixture
def private_app(app, database_url, tmp_path):
    """The sandbox on for everything, with Slack and webhook URLs allowed to name 127.0.0.1 (on the test
    database: asking for `app` empties it after the test)."""
    application = create_app(make_env(database_url, SURVEYD_OUTBOUND_ALLOW_PRIVATE="1"),
                             instance_path=str(tmp_path / "instance"))
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def receiver():
    with HttpReceiver() as fake:
        yield fake


def in_app(application, fn, *args):
    with application.app_context():
        try:
            return fn(*args)
        finally:
            db.session.remove()


def test_a_slack_notification_is_kept_in_the_sandbox_and_reaches_no_network(private_app, receiver):
    url = f"{receiver.base_url}/services/T1/B2/secret"
    alert_id = in_app(private_app, unhappy_answer, [{"channel": "slack", "url": url}])
    # Driven directly: when send_one returns, the send is over, so an empty receiver means nothing was sent.
    assert in_app(private_app, notify_agents, alert_id) == ["sent"]
    assert receiver.requests == []

    def kept():
        (row,) = db.session.scalars(sa.select(SandboxMessage)).all()
        return row.channel, row.recipient, json.loads(row.text), dict(row.extra["http_headers"]), row.extra

    channel, recipient, body, headers, extra = in_app(private_app, kept)
    assert channel == OutboundChannel.SLACK and recipient == receiver.base_url  # the URL's secret path is not kept
    assert headers == {"Host": f"127.0.0.1:{receiver.port}", "content-type": "application/json; charset=utf-8"}
    assert body["blocks"][0]["type"] == "header" and "Ada Lovelace" in body["text"]
    assert (extra["audience"], extra["alert_id"], extra["method"]) == ("agent", alert_id, "POST")
    assert "secret" not in json.dumps(extra)

    html = sandbox_staff(private_app).get("/sandbox?view=agents").get_data(as_text=True)
    page = parse(html)
    assert [a["channel"] for a in agent_articles(html)] == ["slack"]
    assert '<p class="slack-header">Ada Lovelace gave 2/10 on Delivery NPS</p>' in html
    assert "“It came broken”" not in page.text and "It came broken" in page.text  # Slack quotes, not marks
    (open_alert,) = [e for e in page.all("a") if "slack-button" in e.attrs.get("class", "")]
    assert open_alert.attrs["href"] == f"http://surveyd.test/console/alerts/{alert_id}"
    assert in_app(private_app, lambda: db.session.scalar(sa.select(Notification.status))).value == "sent"

    # The receiver was there all along: the real client's one POST is the only request it ever got.
    message = in_app(private_app, lambda: rendering.message_for(db.session.scalar(sa.select(Notification))))
    SlackWebhookChannel(timeout=5, allow_private=True).send(message)
    assert receiver.wait_for_requests(1) and len(receiver.requests) == 1


def test_a_webhook_delivery_is_kept_with_a_signature_that_verifies_and_reaches_no_network(private_app, receiver):
    def register():
        return endpoints.create_endpoint(f"{receiver.base_url}/hooks?token=abc", ["alert.created"]).secret

    secret = in_app(private_app, register)
    alert_id = in_app(private_app, unhappy_answer, [])
    assert in_app(private_app, notify_agents, alert_id) == ["delivered"]
    assert receiver.requests == []

    def kept():
        (row,) = db.session.scalars(sa.select(SandboxMessage)).all()
        return row.channel, row.recipient, row.text, dict(row.extra["http_headers"]), row.extra

    channel, recipient, body, headers, extra = in_app(private_app, kept)
    assert channel == OutboundChannel.WEBHOOK and recipient == receiver.base_url  # no path, no token
    assert Webhook(secret).verify(body, headers)["type"] == "alert.created"  # the reference library agrees
    assert headers["user-agent"] == "surveyd-webhooks" and headers["content-type"] == "application/json"
    assert extra["audience"] == "integrator" and "secret" not in extra
    assert in_app(private_app, lambda: db.session.scalar(sa.select(WebhookDelivery.msg_id))) == headers["webhook-id"]

    html = sandbox_staff(private_app).get("/sandbox?view=agents").get_data(as_text=True)
    page = parse(html)
    assert [a["channel"] for a in agent_articles(html)] == ["webhook"]
    assert f"POST to {receiver.base_url} · event alert.created" in page.text
    assert ["webhook-signature", headers["webhook-signature"]] in [cells for _, cells in page.rows]
    assert '\n  "type": "alert.created"' in unescape(html)  # the body, pretty
    assert "token=abc" not in html

    def resend():
        delivery = db.session.scalar(sa.select(WebhookDelivery))
        endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
        return OutboundMessage(channel="webhook", to=endpoint.url, text=body, extra={
            "secret": endpoint.secret, "webhook_id": delivery.msg_id, "timestamp": int(headers["webhook-timestamp"])})

    SignedWebhookChannel(timeout=5, allow_private=True).send(in_app(private_app, resend))
    assert receiver.wait_for_requests(1) and len(receiver.requests) == 1


def test_with_only_some_channels_sandboxed_slack_and_webhooks_use_their_real_clients(database_url, tmp_path):
    staging = create_app(make_env(database_url, SURVEYD_SANDBOX="email,telegram"), instance_path=str(tmp_path / "i"))
    with staging.app_context():
        assert channels.sandboxes_everything() is False
        assert isinstance(channels.notification_adapter("slack"), SlackWebhookChannel)
        assert isinstance(delivering._channel(), SignedWebhookChannel)
        db.engine.dispose()


# --- the demo ---------------------------------------------------------------------------------


def _demo_counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (User, Alert, Notification, SandboxMessage, Survey, Contact)}


def test_the_demo_seeds_staff_and_three_alerts_agents_were_told_of_once(app, client, ctx, caplog):
    caplog.set_level(logging.INFO, logger="surveyd.services.sandbox.demo")
    assert seed_demo() is not None
    logged = dict(re.findall(r"demo: staff user (\S+) \(\w+\), password: (\S+)", caplog.text))
    assert sorted(logged) == ["admin@demo.test", "agent@demo.test", "designer@demo.test"]
    for email, password in logged.items():
        user = staff(email)
        assert user.role.value == email.split("@")[0] and passwords.verify(user.password_hash, password)
        assert user.password_hash.startswith("$argon2id$")
    assert staff("agent@demo.test").telegram_user_id == STAFF_TELEGRAM_USER_ID

    nps = db.session.scalar(sa.select(Survey).where(Survey.name == "Delivery NPS"))
    assert nps.latest.alert["notify"] == [{"channel": "email", "to": "agents@demo.test"},
                                          {"channel": "telegram", "chat_id": "-1001000000001"}]
    alerts = {a.contact.external_id: a for a in db.session.scalars(sa.select(Alert).join(Alert.contact).where(
        Contact.external_id.in_(["liam", "zeynep", "reza"])))}
    assert {key: (a.status.value, a.assignee, a.escalated_at is not None) for key, a in alerts.items()} == {
        "liam": ("open", None, False), "zeynep": ("claimed", "agent@demo.test", False), "reza": ("open", None, True)}
    assert ("user:agent@demo.test", "claimed") in [(e.actor, e.action) for e in alerts["zeynep"].activity]
    assert "escalated" in [e.action for e in alerts["reza"].activity]
    assert alerts["reza"].due_at < alerts["reza"].escalated_at  # escalated because its SLA had passed
    assert {key: sorted((n.event, n.channel) for n in a.notifications) for key, a in alerts.items()} == {
        "liam": [("created", "email"), ("created", "telegram")],
        "zeynep": [("created", "email"), ("created", "telegram")],
        "reza": [("created", "email"), ("created", "telegram"), ("escalated", "email"), ("escalated", "telegram")]}

    liam = str(alerts["liam"].id)
    assert notifying.sweep() == 8  # what the relay does right after `serve --demo` starts
    db.session.remove()
    seeded = _demo_counts()
    html = _agents_view(client)
    articles = agent_articles(html)
    assert len(articles) == 8 and {a["channel"] for a in articles} == {"email", "telegram"}
    assert f"Claim alert #{liam}" in alert_buttons(html)
    assert "linked to <strong>agent@demo.test</strong>" in html

    assert seed_demo() is None  # a second start adds nothing
    assert _demo_counts() == seeded
    assert "password" not in caplog.text.split("demo: 3 alerts")[-1]  # passwords are logged once, when made

    client.post("/sandbox/agents/telegram/tap", data=alert_buttons(html)[f"Claim alert #{liam}"])
    db.session.remove()
    assert db.session.get(Alert, int(liam)).assignee == "agent@demo.test"
