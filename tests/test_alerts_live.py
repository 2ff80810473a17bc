"""Agent notifications seen from outside: a live `serve` tells agents of a detractor over real SMTP, the real
python-telegram-bot and an HTTP Slack webhook, each a local fake this test reads."""
from __future__ import annotations

import json

import pytest
import requests

from surveyd import create_app
from surveyd.models import Channel
from surveyd.services.dispatch.channels import adapters
from tests.conftest import free_port, make_env
from tests.fakes.http_receiver import HttpReceiver
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.telegram_api import FakeTelegram, callback_update, message_update
from tests.live import outside_client, quiesced, served, wait_until
from tests.web.pages import parse

AGENTS_CHAT = -1001234567890


@pytest.fixture
def smtp():
    with FakeSmtp() as fake:
        yield fake


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def slack():
    with HttpReceiver() as fake:
        yield fake


@pytest.fixture
def live(database_url, tmp_path, smtp, telegram, slack, app):
    """`serve` with real email, Telegram and Slack targets for agents; yields (client, app, relay)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    served_app = create_app(make_env(
        database_url, SURVEYD_PUBLIC_URL=base, SURVEYD_SANDBOX="0",
        SURVEYD_SMTP_HOST=smtp.host, SURVEYD_SMTP_PORT=str(smtp.port), SURVEYD_SMTP_STARTTLS="0",
        SURVEYD_MAIL_FROM="Acme CX <cx@acme.example>",
        SURVEYD_TELEGRAM_BOT_TOKEN=telegram.token, SURVEYD_TELEGRAM_API_BASE=telegram.base_url,
        SURVEYD_TELEGRAM_WEBHOOK_SECRET="s" * 20, SURVEYD_TELEGRAM_BOT_USERNAME=telegram.username,
        SURVEYD_OUTBOUND_ALLOW_PRIVATE="1",
        SURVEYD_RELAY_POLL_SECONDS="0.1", SURVEYD_RETRY_BASE_SECONDS="0.2", SURVEYD_RETRY_MAX_SECONDS="1",
        SURVEYD_SEND_TIMEOUT_SECONDS="3",
    ), instance_path=str(tmp_path))
    with served(served_app, port) as relay:
        outside = outside_client(served_app, base)
        outside.telegram = telegram  # Telegram performs the call a webhook response names (post_update)
        survey = outside.post("/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["en", "tr"], "alert": {
            "notify": [{"channel": "email", "to": "agents@acme.example"},
                       {"channel": "telegram", "chat_id": str(AGENTS_CHAT), "locale": "tr"},
                       {"channel": "slack", "url": f"{slack.base_url}/services/T1/B2/abc"}]}})
        outside.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["web"]})
        yield outside, served_app, relay
        outside.session.close()
    with served_app.app_context():
        adapters()[Channel.TELEGRAM].client.close()  # the PTB loop thread of this app


def answer_on_the_web(outside, score: int, external_id: str, comment: str | None = None,
                      name: str = "Ayşe Yılmaz") -> str:
    """An event, then the customer's answer on the survey page, as a browser posts it; the page's URL."""
    body = outside.post("/events", {"touchpoint": "order.delivered", "attributes": {"order_id": "A-1042"},
                                    "contact": {"external_id": external_id, "name": name}}, status=202)
    url = body["dispatches"][0]["url"]
    assert requests.post(url, data={"score": str(score)}, timeout=10).status_code == 200
    if comment:
        assert requests.post(url, data={"improve": comment}, timeout=10).status_code == 200
    return url


def agent_telegrams(telegram) -> list[dict]:
    return [m for m in telegram.sent if int(m["chat_id"]) == AGENTS_CHAT]


def test_a_detractor_reaches_every_target_once_and_a_promoter_none(live, smtp, telegram, slack):
    outside, app, relay = live
    url = answer_on_the_web(outside, 2, "ayse")
    smtp.wait_for(1)
    wait_until(lambda: agent_telegrams(telegram) and slack.requests, what="the Telegram and Slack notifications")
    assert requests.post(url, data={"score": "2"}, timeout=10).status_code == 200  # the customer submits again
    answer_on_the_web(outside, 10, "happy")
    answer_on_the_web(outside, 8, "passive")
    quiesced(relay)

    (mail,) = smtp.messages
    assert mail.rcpt_tos == ["agents@acme.example"]
    assert "2/10" in mail.message["Subject"] and "Ayşe Yılmaz" in mail.message["Subject"]
    text = mail.message.get_body(("plain",)).get_content()
    (alert,) = outside.get("/alerts")["items"]
    assert f"/console/alerts/{alert['id']}" in text and "A-1042" in text

    (chat,) = agent_telegrams(telegram)
    assert chat["params"]["parse_mode"] == "HTML" and "10 üzerinden 2" in chat["text"]  # Turkish, as asked
    assert chat["params"]["link_preview_options"] == {"is_disabled": True}

    (post,) = slack.requests
    body = json.loads(post.body)
    assert post.path == "/services/T1/B2/abc" and body["blocks"] and "Ayşe" in body["text"]

    detail = outside.get(f"/alerts/{alert['id']}")
    assert sorted((d["channel"], d["status"], d["attempts"]) for d in detail["deliveries"]) == [
        ("email", "sent", 1), ("slack", "sent", 1), ("telegram", "sent", 1)]
    assert [a["action"] for a in detail["activity"]].count("notified") == 3


def test_a_target_that_fails_for_a_while_gets_exactly_one_message(live, slack, smtp):
    outside, app, relay = live
    for _ in range(3):
        slack.answer(503, headers={"Retry-After": "0"}, body="service unavailable")
    answer_on_the_web(outside, 0, "furious")
    wait_until(lambda: len(slack.requests) == 4, what="three refusals, then the delivery")
    quiesced(relay)
    assert [r.path for r in slack.requests] == ["/services/T1/B2/abc"] * 4
    (alert,) = outside.get("/alerts")["items"]
    (delivery,) = [d for d in outside.get(f"/alerts/{alert['id']}")["deliveries"] if d["channel"] == "slack"]
    assert (delivery["status"], delivery["attempts"]) == ("sent", 4)
    assert [step["outcome"] for step in delivery["log"]] == ["retrying", "retrying", "retrying", "sent"]
    assert len(smtp.messages) == 1


def test_a_slack_url_that_is_gone_is_not_retried(live, slack):
    outside, app, relay = live
    slack.answer(404, body="no_service")
    answer_on_the_web(outside, 1, "cross")
    wait_until(lambda: slack.requests, what="the Slack post")
    quiesced(relay)
    assert len(slack.requests) == 1
    (alert,) = outside.get("/alerts")["items"]
    detail = outside.get(f"/alerts/{alert['id']}")
    (delivery,) = [d for d in detail["deliveries"] if d["channel"] == "slack"]
    assert delivery["status"] == "failed" and "404" in delivery["last_error"]
    assert "notification_failed" in [a["action"] for a in detail["activity"]]


def test_the_agent_email_is_html_with_a_link_to_the_alert(live, smtp):
    outside, app, relay = live
    answer_on_the_web(outside, 3, "ayse", name="Ayşe <b>Y</b>")
    smtp.wait_for(1)
    quiesced(relay)
    html = smtp.messages[0].message.get_body(("html",)).get_content()
    page = parse(html)
    (alert,) = outside.get("/alerts")["items"]
    assert any(a.attrs.get("href", "").endswith(f"/console/alerts/{alert['id']}") for a in page.all("a"))
    assert "Ayşe &lt;b&gt;Y&lt;/b&gt;" in html and "<b>Y</b>" not in html  # the customer's markup is escaped


def post_update(outside, update: dict, secret: str = "s" * 20) -> requests.Response:
    """Telegram delivering an update to the webhook, with the secret token set at setWebhook, and performing the
    Bot API call the response names."""
    response = requests.post(outside.base + "/webhooks/telegram", json=update, timeout=10,
                             headers={"X-Telegram-Bot-Api-Secret-Token": secret})
    outside.telegram.webhook_answered(response.status_code, response.headers.get("Content-Type", ""), response.content)
    return response


def group_tap(message: dict, label: str, user_id: int, chat_id: int = AGENTS_CHAT) -> dict:
    """Telegram's update for a tap on the button with this label under an alert message, by one group member."""
    (data,) = [button["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for button in row
               if button["text"] == label]
    update = callback_update(chat_id, message["message_id"], data)
    update["callback_query"]["from"] = {"id": user_id, "is_bot": False, "first_name": "Agent", "language_code": "tr"}
    update["callback_query"]["message"]["chat"] = {"id": chat_id, "type": "supergroup", "title": "Agents"}
    return update


def link_agent(outside, app, telegram, email: str, user_id: int) -> None:
    """A staff user, and their Telegram account linked through a one-time deep link (`surveyd user telegram-link`)."""
    from surveyd.services.access.staff_links import create_link
    from surveyd.services.access.users import create_user

    with app.app_context():
        create_user(email, "agent", "a long enough password")
        link = create_link(email)
    assert link.startswith(f"https://t.me/{telegram.username}?start=")
    code = link.rsplit("=", 1)[1]
    assert post_update(outside, message_update(user_id, f"/start {code}", first_name="Agent")).status_code == 200
    assert email in telegram.messages_to(user_id)[-1]
    # The code is spent: someone else who gets hold of it links nothing.
    assert post_update(outside, message_update(user_id + 1, f"/start {code}")).status_code == 200
    assert email not in telegram.messages_to(user_id + 1)[-1]


def test_a_linked_agent_claims_and_resolves_from_the_group_chat(live, telegram):
    outside, app, relay = live
    link_agent(outside, app, telegram, "deniz@acme.example", 5001)
    answer_on_the_web(outside, 2, "ayse")
    (message,) = wait_until(lambda: agent_telegrams(telegram), what="the alert in the agents' group")
    markup = message["params"]["reply_markup"]
    stored = {"message_id": message["message_id"], "reply_markup": json.loads(markup) if isinstance(markup, str)
              else markup}
    assert [b["text"] for b in stored["reply_markup"]["inline_keyboard"][0]] == ["Üstlen", "Çözüldü"]

    assert post_update(outside, group_tap(stored, "Üstlen", 5001)).status_code == 200
    (alert,) = outside.get("/alerts")["items"]
    assert (alert["status"], alert["assignee"]) == ("claimed", "deniz@acme.example")
    (edit,) = telegram.edits
    assert "deniz@acme.example" in edit["text"]
    assert [b["text"] for row in (edit.get("reply_markup") or {}).get("inline_keyboard", []) for b in row] == ["Çözüldü"]
    assert telegram.callback_answers[-1]["text"] == "Bu uyarı artık sizde."

    assert post_update(outside, group_tap(stored, "Çözüldü", 5001)).status_code == 200
    detail = outside.get(f"/alerts/{alert['id']}")
    assert detail["status"] == "resolved"
    assert [(a["action"], a["actor"]) for a in detail["activity"] if a["actor"].startswith("user:")] == [
        ("assigned", "user:deniz@acme.example"), ("claimed", "user:deniz@acme.example"),
        ("resolved", "user:deniz@acme.example")]
    assert not (telegram.edits[-1].get("reply_markup") or {}).get("inline_keyboard")


def test_a_tap_by_someone_not_linked_or_forged_or_copied_changes_nothing(live, telegram):
    outside, app, relay = live
    link_agent(outside, app, telegram, "deniz@acme.example", 5001)
    answer_on_the_web(outside, 1, "ayse")
    (message,) = wait_until(lambda: agent_telegrams(telegram), what="the alert in the agents' group")
    markup = message["params"]["reply_markup"]
    stored = {"message_id": message["message_id"], "reply_markup": json.loads(markup) if isinstance(markup, str)
              else markup}

    assert post_update(outside, group_tap(stored, "Üstlen", 6666)).status_code == 200  # a stranger in the group
    assert "telegram-link" in telegram.callback_answers[-1]["text"]
    forged = group_tap(stored, "Üstlen", 5001)
    forged["callback_query"]["data"] = forged["callback_query"]["data"][:-4] + "AAAA"
    assert post_update(outside, forged).status_code == 200
    copied = group_tap(stored, "Üstlen", 5001, chat_id=-100999)  # the button's data pasted into another chat
    assert post_update(outside, copied).status_code == 200
    (alert,) = outside.get("/alerts")["items"]
    assert (alert["status"], alert["assignee"]) == ("open", None)
    assert telegram.edits == []
    assert len(telegram.callback_answers) == 3


def test_a_negatively_worded_comment_on_a_passive_score_reaches_the_agents(live, smtp):
    """The wording is read after the answer is stored, by serve's own threads, and the alert follows."""
    outside, app, relay = live
    survey = outside.post("/surveys", {"name": "Support NPS", "kind": "nps", "locales": ["en", "tr"], "alert": {
        "sentiment": True, "notify": [{"channel": "email", "to": "support@acme.example"}]}})
    outside.post("/triggers", {"touchpoint": "ticket.closed", "survey_id": survey["id"], "channels": ["web"]})
    body = outside.post("/events", {"touchpoint": "ticket.closed", "contact": {"external_id": "deniz", "locale": "tr"}},
                        status=202)
    url = body["dispatches"][0]["url"]
    assert requests.post(url, data={"score": "8"}, timeout=10).status_code == 200  # a passive: no alert
    comment = "Temsilci çok kabaydı, sorunum hâlâ çözülmedi. Berbat bir destek."
    assert requests.post(url, data={"missing": comment}, timeout=10).status_code == 200
    (mail,) = smtp.wait_for(1, timeout=30)
    assert mail.rcpt_tos == ["support@acme.example"]
    (alert,) = outside.get("/alerts")["items"]
    assert alert["reasons"] == ["sentiment"]
    (response,) = outside.get(f"/responses?survey_id={survey['id']}")["items"]
    words = {a["question_id"]: a["sentiment"] for a in response["answers"]}
    assert words["missing"]["label"] == "negative" and words["score"] is None
