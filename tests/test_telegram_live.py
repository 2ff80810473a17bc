"""The Telegram bot seen from outside: this test acts as Telegram against a live `serve` with its relay.

Invitations go out through the real python-telegram-bot to a local fake Bot API server; button taps,
commands and typed messages come back as updates posted to /webhooks/telegram with the secret header.
"""
from __future__ import annotations

import contextlib
import itertools

import pytest
import requests
import sqlalchemy as sa

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import Channel, InboundMessage
from surveyd.services.dispatch.channels import adapters
from tests.conftest import free_port, make_env
from tests.fakes.telegram_api import FakeTelegram, callback_update, message_update
from tests.live import Outside, outside_client, served

SECRET = "webhook-secret-0123456789"
_chats = itertools.count(700100)


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


@contextlib.contextmanager
def bot_server(database_url, tmp_path, telegram, channels, **env):
    """`serve` with its relay and the real PTB client pointed at the fake Bot API; yields an Outside client
    whose order.delivered trigger asks on these channels."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    live = create_app(make_env(
        database_url, **{"SURVEYD_PUBLIC_URL": base, "SURVEYD_SANDBOX": "email", **env},
        SURVEYD_TELEGRAM_BOT_TOKEN=telegram.token, SURVEYD_TELEGRAM_API_BASE=telegram.base_url,
        SURVEYD_TELEGRAM_WEBHOOK_SECRET=SECRET, SURVEYD_TELEGRAM_BOT_USERNAME=telegram.username,
        SURVEYD_RELAY_POLL_SECONDS="0.1", SURVEYD_RETRY_BASE_SECONDS="0.2", SURVEYD_RETRY_MAX_SECONDS="1",
        SURVEYD_SEND_TIMEOUT_SECONDS="2",
    ), instance_path=str(tmp_path))
    with served(live, port):
        outside = outside_client(live, base)
        survey = outside.post("/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["en", "tr", "fa"]})
        outside.survey_id = survey["id"]
        outside.telegram = telegram  # Telegram performs the call a webhook response names (post_update)
        outside.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": channels})
        yield outside
        outside.session.close()
    with live.app_context():
        adapters()[Channel.TELEGRAM].client.close()  # the PTB loop thread of this app


@pytest.fixture
def bot(database_url, tmp_path, telegram, app):
    with bot_server(database_url, tmp_path, telegram, ["telegram", "email"]) as outside:
        yield outside


def post_update(bot: Outside, update: dict, secret: str | None = SECRET) -> requests.Response:
    """POST an update as Telegram does: JSON, with the secret token header when given."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    response = requests.post(bot.base + "/webhooks/telegram", json=update, headers=headers, timeout=10)
    bot.telegram.webhook_answered(response.status_code, response.headers.get("Content-Type", ""), response.content)
    return response


def invited(bot: Outside, telegram: FakeTelegram, locale: str = "en", **contact) -> tuple[int, dict, dict]:
    """Fire an event for a new chat and wait until its survey reached Telegram; (chat id, dispatch, message)."""
    chat = next(_chats)
    planned = bot.event(external_id=f"tg-{chat}", telegram_chat_id=str(chat), locale=locale, **contact)
    assert planned["channel"] == "telegram"
    dispatch = bot.settled(planned["id"])
    assert dispatch["status"] == "sent", dispatch
    (message,) = [m for m in telegram.sent if m["chat_id"] == chat]
    return chat, dispatch, message


def buttons(message: dict) -> list[list[tuple[str, str]]]:
    return [[(b["text"], b["callback_data"]) for b in row] for row in message["reply_markup"]["inline_keyboard"]]


def tap(bot, message: dict, label: str, chat: int | None = None) -> tuple[requests.Response, dict]:
    """Tap the button with this label on a survey message (in another chat when given)."""
    (data,) = [d for row in buttons(message) for text, d in row if text == label]
    update = callback_update(chat or message["chat_id"], message["message_id"], data)
    return post_update(bot, update), update


def responses(bot: Outside) -> list[dict]:
    return bot.get(f"/responses?survey_id={bot.survey_id}")["items"]


def inbound_rows(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(InboundMessage.id)))
        db.session.remove()
        return count


def test_the_survey_arrives_with_one_button_per_score(bot, telegram):
    _, _, message = invited(bot, telegram, name="Ada")
    rows = buttons(message)
    assert [[label for label, _ in row] for row in rows] == [[str(n) for n in range(6)], [str(n) for n in range(6, 11)]]
    assert all(len(data.encode()) <= 64 for row in rows for _, data in row)
    assert "How likely are you to recommend us" in message["text"]
    assert "0 = Not at all likely · 10 = Extremely likely" in message["text"]


@pytest.mark.parametrize(("locale", "label", "score", "follow_up", "chosen", "thanks"), [
    ("en", "9", 9, "Great to hear! What did you like most?", "Your answer: 9", "Thank you! Your answer is saved."),
    ("tr", "3", 3, "Bunu duyduğumuza üzüldük. Neyi daha iyi yapmalıydık?", "Yanıtınız: 3",
     "Teşekkürler! Yanıtınız kaydedildi."),
    ("fa", "۷", 7, None, "پاسخ شما: ۷", "سپاسگزاریم! پاسخ شما ثبت شد."),
])
def test_a_whole_conversation_in_each_locale(bot, telegram, locale, label, score, follow_up, chosen, thanks):
    chat, dispatch, message = invited(bot, telegram, locale=locale)
    response, update = tap(bot, message, label)
    assert response.status_code == 200
    assert [a["callback_query_id"] for a in telegram.callback_answers] == [update["callback_query"]["id"]]
    (edit,) = telegram.edits
    assert edit["text"].endswith(chosen) and not (edit.get("reply_markup") or {}).get("inline_keyboard")
    question = telegram.messages_to(chat)[-1]
    if follow_up:
        assert question == follow_up
    post_update(bot, message_update(chat, "The courier was kind", language_code=locale))
    assert telegram.messages_to(chat)[-1] == thanks
    (stored,) = responses(bot)
    assert (stored["score"], stored["channel"], stored["locale"], stored["completed"]) == (score, "telegram", locale, True)
    assert stored["answers"][-1]["value"] == "The courier was kind"
    assert bot.get(f"/dispatches/{dispatch['id']}")["status"] == "answered"


def test_a_tap_delivered_twice_is_recorded_once(bot, telegram, app):
    _, _, message = invited(bot, telegram)
    (data,) = [d for row in buttons(message) for text, d in row if text == "2"]
    update = callback_update(message["chat_id"], message["message_id"], data)
    assert post_update(bot, update).status_code == 200
    assert post_update(bot, update).status_code == 200
    assert len(telegram.edits) == 1 and len(telegram.callback_answers) == 1
    assert inbound_rows(app) == 1
    (stored,) = responses(bot)
    assert stored["score"] == 2
    alerts = bot.get("/alerts?status=open")["items"]
    assert len(alerts) == 1  # a detractor's tap raised one alert
    # A second, different tap on the same survey changes nothing and says so.
    again, _ = tap(bot, message, "10")
    assert again.status_code == 200
    assert telegram.callback_answers[-1]["text"] == "You have already answered. Thank you!"
    assert [r["score"] for r in responses(bot)] == [2]


def test_the_taps_answer_rides_in_the_webhook_response_and_a_message_gets_an_empty_one(bot, telegram):
    chat, _, message = invited(bot, telegram)
    (data,) = [d for row in buttons(message) for text, d in row if text == "9"]
    update = callback_update(chat, message["message_id"], data)
    response = requests.post(bot.base + "/webhooks/telegram", json=update, timeout=10,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": update["callback_query"]["id"]}
    # surveyd itself made no answerCallbackQuery request: Telegram performs the one in the response.
    assert telegram.callback_answers == [] and "answerCallbackQuery" not in [r["method"] for r in telegram.requests]
    assert len(telegram.edits) == 1  # the choice is shown and the follow-up asked as before
    typed = requests.post(bot.base + "/webhooks/telegram", json=message_update(chat, "Fast and friendly"),
                          timeout=10, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert typed.status_code == 200 and typed.content == b""
    (stored,) = responses(bot)
    assert stored["score"] == 9 and stored["answers"][-1]["value"] == "Fast and friendly"


def test_an_update_without_the_secret_is_refused_and_not_recorded(bot, telegram, app):
    _, _, message = invited(bot, telegram)
    (data,) = [d for row in buttons(message) for text, d in row if text == "9"]
    update = callback_update(message["chat_id"], message["message_id"], data)
    assert post_update(bot, update, secret=None).status_code == 403
    assert post_update(bot, update, secret="wrong-secret").status_code == 403
    bad_json = requests.post(bot.base + "/webhooks/telegram", data=b"{not json", timeout=10,
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert post_update(bot, {"update_id": "seven"}).status_code == 400
    assert inbound_rows(app) == 0 and responses(bot) == [] and telegram.edits == []


def test_a_button_tapped_in_another_chat_answers_nothing(bot, telegram):
    _, _, message = invited(bot, telegram)
    other_chat, _, _ = invited(bot, telegram)
    response, _ = tap(bot, message, "0", chat=other_chat)  # data copied into someone else's chat
    assert response.status_code == 200
    assert telegram.callback_answers[-1]["text"] == "This button is no longer valid."
    assert responses(bot) == []


def test_a_typed_number_is_read_like_an_sms(bot, telegram):
    chat, _, _ = invited(bot, telegram)
    post_update(bot, message_update(chat, "hmm"))
    assert telegram.messages_to(chat)[-1] == "Sorry, I didn't get that. Tap a button or send a number from 0 to 10."
    post_update(bot, message_update(chat, "I'd say 8"))
    assert telegram.messages_to(chat)[-1] == "Thanks! What would it take for us to earn a 10?"
    assert [r["score"] for r in responses(bot)] == [8]


def test_stop_and_start_commands(bot, telegram):
    chat, _, _ = invited(bot, telegram)
    post_update(bot, message_update(chat, "/stop"))
    assert telegram.messages_to(chat)[-1] == "You will get no more surveys here. Send /start to get them again."
    later = bot.event(external_id=f"tg-{chat}")
    assert later["channel"] == "email" or (later["status"], later["reason"]) == ("suppressed", "opted_out")
    assert bot.get(f"/contacts/tg-{chat}")["consent"]["telegram"]["state"] == "opted_out"
    post_update(bot, message_update(chat, "/start"))
    assert telegram.messages_to(chat)[-1] == "You will get surveys here again. Send /stop to turn them off."
    assert bot.get(f"/contacts/tg-{chat}")["consent"]["telegram"]["state"] == "opted_in"
    post_update(bot, message_update(chat, "/help"))
    assert "/stop" in telegram.messages_to(chat)[-1]


def test_a_user_who_blocked_the_bot_is_opted_out_and_not_retried(bot, telegram):
    chat = next(_chats)
    telegram.blocked.add(chat)
    planned = bot.event(external_id=f"tg-{chat}", telegram_chat_id=str(chat), email="ada@example.com")
    dispatch = bot.settled(planned["id"])
    assert (dispatch["channel"], dispatch["status"]) == ("email", "delivered")  # fell back, once
    steps = [(s["status"], s["reason"], s["channel"]) for s in dispatch["history"]]
    assert ("failed", "opted_out", "telegram") in steps
    assert bot.get(f"/contacts/tg-{chat}")["consent"]["telegram"]["state"] == "opted_out"
    assert len([r for r in telegram.requests if r["method"].lower() == "sendmessage"]) == 1


def test_a_deep_link_binds_the_chat_once_and_surveys_follow_in_its_language(bot, telegram):
    bot.session.put(bot.base + "/api/v1/contacts/link-me", json={"name": "Deniz"}, timeout=10).raise_for_status()
    link = bot.post("/contacts/link-me/telegram-link", {}, status=201)
    assert link["url"].startswith(f"https://t.me/{telegram.username}?start=")
    code = link["url"].rsplit("=", 1)[1]
    chat, stranger = next(_chats), next(_chats)
    # The chat belonged to another contact before: one chat, one contact.
    bot.session.put(bot.base + "/api/v1/contacts/old-owner", json={"telegram_chat_id": str(chat)},
                    timeout=10).raise_for_status()

    post_update(bot, message_update(chat, f"/start {code}", language_code="tr"))
    assert telegram.messages_to(chat)[-1].startswith("Her şey hazır!")  # the app's language: the contact had none
    contact = bot.get("/contacts/link-me")
    assert (contact["telegram_chat_id"], contact["locale"]) == (str(chat), "tr")
    assert contact["consent"]["telegram"]["state"] == "opted_in"
    assert bot.get("/contacts/old-owner")["telegram_chat_id"] is None

    post_update(bot, message_update(stranger, f"/start {code}"))  # a used code binds nobody else
    assert telegram.messages_to(stranger)[-1] == "This link has expired or was already used. Please ask for a new one."
    assert bot.get("/contacts/link-me")["telegram_chat_id"] == str(chat)
    post_update(bot, message_update(stranger, "/start"))
    assert telegram.messages_to(stranger)[-1].startswith("Hi! I send a short survey")

    planned = bot.event(external_id="link-me")
    assert (planned["channel"], bot.settled(planned["id"])["status"]) == ("telegram", "sent")
    assert telegram.messages_to(chat)[-1].startswith("Merhaba Deniz,")
    assert bot.session.post(bot.base + "/api/v1/contacts/nobody/telegram-link", json={}, timeout=10).status_code == 404


def test_an_email_offers_the_bot_and_its_link_binds_the_chat(bot, telegram, app):
    from surveyd.models import SandboxMessage

    planned = bot.event(external_id="mail-first", email="ada@example.com", locale="en")
    assert planned["channel"] == "email"  # no chat yet: Telegram is skipped
    assert bot.settled(planned["id"])["status"] == "delivered"
    with app.app_context():
        (email,) = db.session.scalars(sa.select(SandboxMessage).where(SandboxMessage.channel == Channel.EMAIL)).all()
        text, html = email.text, email.html
        db.session.remove()
    prefix = f"Prefer Telegram? Answer in our bot: https://t.me/{telegram.username}?start="
    (line,) = [line for line in text.splitlines() if line.startswith(prefix)]
    code = line[len(prefix):]
    assert f'href="https://t.me/{telegram.username}?start={code}"' in html
    chat = next(_chats)
    post_update(bot, message_update(chat, f"/start {code}"))
    assert bot.get("/contacts/mail-first")["telegram_chat_id"] == str(chat)
    follow = bot.event(external_id="mail-first")
    assert follow["channel"] == "telegram"


def test_a_chat_never_asked_gets_a_word_on_what_the_bot_is_for(bot, telegram):
    stranger = next(_chats)
    post_update(bot, message_update(stranger, "hello?"))
    assert telegram.messages_to(stranger) == [
        "I send a short survey after your experiences with us. Tap a score to answer. Send /stop to turn surveys off."]
    assert responses(bot) == []


def sandboxed(app, channel: Channel) -> list:
    """What the sandbox inbox holds for one channel, oldest first."""
    from surveyd.models import SandboxMessage

    with app.app_context():
        rows = db.session.scalars(sa.select(SandboxMessage).where(SandboxMessage.channel == channel)
                                  .order_by(SandboxMessage.id)).all()
        db.session.remove()
        return rows


def test_sms_does_not_offer_the_bot_by_default(database_url, tmp_path, telegram, app):
    with bot_server(database_url, tmp_path, telegram, ["telegram", "sms"], SURVEYD_SANDBOX="sms") as plain:
        planned = plain.event(external_id="sms-plain", phone="+15550001001")
        assert plain.settled(planned["id"])["channel"] == "sms"
        (sms,) = sandboxed(app, Channel.SMS)
        assert "t.me" not in sms.text  # the default offers the bot by email only: on SMS it costs a segment
        assert not any(key.endswith("_with_telegram") for key in plain.get(f"/surveys/{plain.survey_id}")["sms_segments"]["en"])


def test_sms_offers_the_bot_when_the_operator_says_so_and_the_survey_shows_the_cost(database_url, tmp_path, telegram, app):
    with bot_server(database_url, tmp_path, telegram, ["telegram", "sms"], SURVEYD_SANDBOX="sms",
                    SURVEYD_TELEGRAM_OFFER="email,sms") as offering:
        planned = offering.event(external_id="sms-first", phone="+15550001002", locale="tr")
        assert offering.settled(planned["id"])["status"] == "delivered"
        sms = sandboxed(app, Channel.SMS)[-1]
        prefix = f"Telegram: https://t.me/{telegram.username}?start="
        assert sms.text.split(" ")[-2:][0] == "Telegram:" and prefix in sms.text
        code = sms.text[sms.text.index(prefix) + len(prefix):]
        assert len(code) == 16

        costs = offering.get(f"/surveys/{offering.survey_id}")["sms_segments"]
        for locale in ("en", "tr", "fa"):
            for purpose in ("invitation", "reminder"):
                plain_cost, offered = costs[locale][purpose], costs[locale][purpose + "_with_telegram"]
                assert offered["units"] > plain_cost["units"] and offered["segments"] >= plain_cost["segments"]
        from bots.sms_segments import count_segments
        # The reported length is the real message's: only the link's token differs, and it is as long.
        assert costs["tr"]["invitation_with_telegram"]["units"] == count_segments(sms.text).units

        chat = next(_chats)
        post_update(offering, message_update(chat, f"/start {code}"))
        assert offering.get("/contacts/sms-first")["telegram_chat_id"] == str(chat)
        assert offering.event(external_id="sms-first")["channel"] == "telegram"  # linked: the bot comes first now
        post_update(offering, message_update(next(_chats), f"/start {code}"))  # the code is spent
        assert offering.get("/contacts/sms-first")["telegram_chat_id"] == str(chat)
