"""The fake Telegram Bot API, driven by the real python-telegram-bot client."""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.telegram_api import FakeTelegram, callback_update, message_update

CHAT = 424242
KEYBOARD = InlineKeyboardMarkup([
    [InlineKeyboardButton("1", callback_data="score:1"), InlineKeyboardButton("2", callback_data="score:2")],
    [InlineKeyboardButton("Skip", callback_data="skip")],
])


@pytest.fixture
def tg():
    with FakeTelegram() as server:
        yield server


def with_bot(tg, action, token=None):
    """Run action(bot) on a real, initialised PTB Bot pointed at the fake."""
    async def main():
        async with Bot(token or tg.token, base_url=tg.base_url + "/bot") as bot:
            return await action(bot)
    return asyncio.run(main())


def test_get_me_returns_the_bot_user(tg):
    me = with_bot(tg, lambda bot: bot.get_me())
    assert (me.id, me.is_bot, me.username) == (tg.bot_id, True, "surveyd_test_bot")
    assert me.can_join_groups is True and me.supports_inline_queries is False
    assert [r["method"] for r in tg.requests] == ["getMe", "getMe"]  # Bot.initialize asks first


def test_send_message_with_inline_keyboard_arrives_intact(tg):
    message = with_bot(tg, lambda bot: bot.send_message(CHAT, "How did we do?", reply_markup=KEYBOARD,
                                                        parse_mode="HTML"))
    (sent,) = tg.sent
    assert sent["chat_id"] == CHAT and sent["text"] == "How did we do?"
    assert sent["reply_markup"] == {"inline_keyboard": [
        [{"text": "1", "callback_data": "score:1"}, {"text": "2", "callback_data": "score:2"}],
        [{"text": "Skip", "callback_data": "skip"}],
    ]}
    assert sent["params"]["parse_mode"] == "HTML"
    assert message.message_id == sent["message_id"]
    assert message.reply_markup == KEYBOARD
    assert message.chat.id == CHAT and message.chat.type == "private"
    assert message.from_user.id == tg.bot_id
    assert abs(message.date - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert tg.messages_to(CHAT) == ["How did we do?"] and tg.messages_to(CHAT + 1) == []


def test_message_ids_increase(tg):
    async def send_three(bot):
        return [(await bot.send_message(CHAT, f"m{i}")).message_id for i in range(3)]
    ids = with_bot(tg, send_three)
    assert ids == sorted(set(ids))


def test_edit_message_text_without_markup_removes_the_keyboard(tg):
    async def edit(bot):
        sent = await bot.send_message(CHAT, "Rate us", reply_markup=KEYBOARD)
        return sent, await bot.edit_message_text("Thanks!", chat_id=CHAT, message_id=sent.message_id)
    sent, edited = with_bot(tg, edit)
    assert edited.message_id == sent.message_id and edited.text == "Thanks!"
    assert edited.reply_markup is None and edited.edit_date is not None
    (record,) = tg.edits
    assert (record["method"], record["chat_id"], record["message_id"]) == ("editMessageText", CHAT, sent.message_id)
    assert record["text"] == "Thanks!" and record["reply_markup"] is None


def test_edit_errors_match_telegram(tg):
    async def edits(bot):
        sent = await bot.send_message(CHAT, "Rate us")
        errors = []
        for kwargs in ({"message_id": sent.message_id + 1000}, {"message_id": sent.message_id}):
            with pytest.raises(BadRequest) as caught:
                await bot.edit_message_text("Rate us", chat_id=CHAT, **kwargs)
            errors.append(caught.value.message)
        return errors
    missing, unchanged = with_bot(tg, edits)
    assert missing == "Message to edit not found"  # PTB capitalises and strips "Bad Request: "
    assert unchanged.startswith("Message is not modified")
    assert tg.edits == []


def test_edit_message_reply_markup(tg):
    async def edit(bot):
        sent = await bot.send_message(CHAT, "Rate us")
        return await bot.edit_message_reply_markup(chat_id=CHAT, message_id=sent.message_id, reply_markup=KEYBOARD)
    edited = with_bot(tg, edit)
    assert edited.reply_markup == KEYBOARD and edited.text == "Rate us"
    assert tg.edits[0]["method"] == "editMessageReplyMarkup" and tg.edits[0]["text"] is None


def test_answer_callback_query(tg):
    ok = with_bot(tg, lambda bot: bot.answer_callback_query("987654321", text="Saved", show_alert=True))
    assert ok is True
    (answer,) = tg.callback_answers
    assert (answer["callback_query_id"], answer["text"], answer["show_alert"]) == ("987654321", "Saved", True)


def test_webhook_is_recorded_reported_and_deleted(tg):
    tg.push_update(message_update(CHAT, "hi"))

    async def webhook(bot):
        await bot.set_webhook("https://surveyd.example/hooks/telegram", secret_token="s3cr3t_-Token",
                              allowed_updates=["message", "callback_query"], max_connections=5)
        info = await bot.get_webhook_info()
        await bot.delete_webhook(drop_pending_updates=True)
        return info, await bot.get_webhook_info()
    info, after = with_bot(tg, webhook)
    assert info.url == "https://surveyd.example/hooks/telegram" and info.pending_update_count == 1
    assert info.allowed_updates == ("message", "callback_query") and info.max_connections == 5
    assert after.url == "" and after.pending_update_count == 0
    assert tg.webhook is None
    (config,) = [r["params"] for r in tg.requests if r["method"] == "setWebhook"]
    assert config["secret_token"] == "s3cr3t_-Token" and config["allowed_updates"] == ["message", "callback_query"]


def test_webhook_config_is_readable_while_set(tg):
    with_bot(tg, lambda bot: bot.set_webhook("https://surveyd.example/t", secret_token="abc",
                                             allowed_updates=["callback_query"]))
    assert tg.webhook == {"url": "https://surveyd.example/t", "secret_token": "abc",
                          "allowed_updates": ["callback_query"], "drop_pending_updates": None,
                          "max_connections": None}


@pytest.mark.parametrize("url, secret", [
    ("http://surveyd.example/t", None), ("https://surveyd.example:8080/t", None),
    ("https://surveyd.example/t", "not/allowed="),
])
def test_webhook_is_validated_like_telegram(tg, url, secret):
    with pytest.raises(BadRequest):
        with_bot(tg, lambda bot: bot.set_webhook(url, secret_token=secret))
    assert tg.webhook is None


def test_get_updates_parses_pushed_updates_and_offset_confirms(tg):
    command = message_update(CHAT, "/start@surveyd_test_bot abc", language_code="de")
    press = callback_update(CHAT, 77, "score:5", message_text="Rate us")
    later = message_update(CHAT, "great service")
    for update in (command, press, later):
        tg.push_update(update)

    updates = with_bot(tg, lambda bot: bot.get_updates(timeout=0))
    assert all(isinstance(u, Update) for u in updates)
    assert [u.update_id for u in updates] == [command["update_id"], press["update_id"], later["update_id"]]
    first, second, third = updates
    assert first.message.text == "/start@surveyd_test_bot abc"
    assert first.message.from_user.language_code == "de"
    (entity,) = first.message.entities
    assert entity.type == MessageEntity.BOT_COMMAND and (entity.offset, entity.length) == (0, 23)
    assert second.callback_query.data == "score:5"
    assert second.callback_query.message.message_id == 77 and second.callback_query.message.text == "Rate us"
    assert second.callback_query.from_user.id == CHAT and second.callback_query.message.chat.id == CHAT
    assert third.message.text == "great service" and not third.message.entities

    remaining = with_bot(tg, lambda bot: bot.get_updates(offset=press["update_id"], timeout=0))
    assert [u.update_id for u in remaining] == [press["update_id"], later["update_id"]]
    assert [u["update_id"] for u in tg.pending_updates] == [press["update_id"], later["update_id"]]
    assert with_bot(tg, lambda bot: bot.get_updates(offset=later["update_id"] + 1, timeout=0)) == ()
    assert tg.pending_updates == []


def test_get_updates_long_polls_until_an_update_arrives(tg):
    async def poll(bot):
        threading.Timer(0.3, tg.push_update, args=(message_update(CHAT, "hello"),)).start()
        started = time.monotonic()
        updates = await bot.get_updates(timeout=10)
        return updates, time.monotonic() - started
    (received,), took = with_bot(tg, poll)
    assert received.message.text == "hello"
    assert 0.25 < took < 1.5  # woken by the push, well before the 2 s cap


def test_get_updates_without_updates_returns_empty_after_the_poll(tg):
    async def poll(bot):
        started = time.monotonic()
        updates = await bot.get_updates(timeout=1)
        return updates, time.monotonic() - started
    updates, took = with_bot(tg, poll)
    assert updates == () and 0.9 < took < 1.8


def test_get_updates_conflicts_with_a_webhook(tg):
    async def poll(bot):
        await bot.set_webhook("https://surveyd.example/t")
        await bot.get_updates(timeout=0)
    with pytest.raises(Conflict, match="webhook is active"):
        with_bot(tg, poll)


def test_blocked_chat_is_forbidden(tg):
    tg.blocked.add(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        with_bot(tg, lambda bot: bot.send_message(CHAT, "hi"))
    assert tg.sent == [] and tg.requests[-1]["status"] == 403


def test_unknown_chat_is_bad_request(tg):
    tg.unknown_chats.add(CHAT)
    with pytest.raises(BadRequest, match="Chat not found"):
        with_bot(tg, lambda bot: bot.send_message(CHAT, "hi"))
    assert tg.sent == []


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB warns inside RetryAfter()
def test_throttling_raises_retry_after_once(tg, monkeypatch):
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    tg.throttle_next(1, retry_after=3)

    async def send_twice(bot):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CHAT, "hi")
        return caught.value, await bot.send_message(CHAT, "again")
    error, message = with_bot(tg, send_twice)
    with pytest.warns(PTBDeprecationWarning):
        assert error.retry_after == 3  # PTB 22.8 gives int seconds unless PTB_TIMEDELTA is set
    assert message.text == "again" and tg.messages_to(CHAT) == ["again"]
    assert [r["status"] for r in tg.requests if r["method"] == "sendMessage"] == [429, 200]


def test_retry_after_is_a_timedelta_when_ptb_opts_in(tg, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    tg.throttle_next(1, retry_after=4)
    with pytest.raises(RetryAfter) as caught:
        with_bot(tg, lambda bot: bot.send_message(CHAT, "hi"))
    assert caught.value.retry_after == timedelta(seconds=4)


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors_are_network_errors_and_store_nothing(tg, status):
    tg.fail_next(1, status=status)

    async def send_twice(bot):
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(CHAT, "hi")
        return caught.value, await bot.send_message(CHAT, "again")
    error, _ = with_bot(tg, send_twice)
    assert not isinstance(error, TimedOut)
    assert tg.messages_to(CHAT) == ["again"]


def test_slow_answer_times_out_although_the_message_was_stored(tg):
    tg.delay_after_store(1.0, n=1)

    async def send(bot):
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "hi", read_timeout=0.2)
        started = time.monotonic()
        await bot.send_message(CHAT, "fast")
        return time.monotonic() - started
    second_took = with_bot(tg, send)
    assert tg.messages_to(CHAT) == ["hi", "fast"]
    assert second_took < 0.5


def test_wrong_token_is_invalid_token(tg):
    wrong = f"{tg.bot_id}:AA" + "x" * 33
    with pytest.raises(InvalidToken):
        with_bot(tg, lambda bot: bot.get_me(), token=wrong)
    assert [(r["method"], r["status"]) for r in tg.requests] == [("getMe", 401)]


def test_unknown_method_is_endpoint_not_found(tg):
    with pytest.raises(EndPointNotFound):
        with_bot(tg, lambda bot: bot.do_api_request("frobnicate"))
    assert tg.requests[-1]["status"] == 404


def test_commands_are_recorded_and_validated(tg):
    async def commands(bot):
        await bot.set_my_commands([("start", "Begin the survey"), ("stop", "Stop messages")])
        recorded = tg.commands
        with pytest.raises(BadRequest):
            await bot.set_my_commands([("Start", "Upper case is not allowed")])
        await bot.delete_my_commands()
        return recorded
    assert with_bot(tg, commands) == [{"command": "start", "description": "Begin the survey"},
                                      {"command": "stop", "description": "Stop messages"}]
    assert tg.commands == []


def test_json_multipart_get_and_any_method_case_are_understood(tg):
    api = f"{tg.base_url}/bot{tg.token}"
    markup = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    with httpx.Client() as client:
        as_json = client.post(f"{api}/SENDMESSAGE", json={"chat_id": "7", "text": "json", "reply_markup": markup})
        # A files= part makes httpx send multipart/form-data, as PTB does for uploads.
        as_multipart = client.post(f"{api}/sendmessage", files={"text": (None, "multipart")},
                                   data={"chat_id": "-1001234", "reply_markup": json.dumps(markup)})
        as_get = client.get(f"{api}/sendMessage", params={"chat_id": 8, "text": "get"})
    assert [r.status_code for r in (as_json, as_multipart, as_get)] == [200, 200, 200]
    assert as_json.json()["result"]["reply_markup"] == markup
    assert as_multipart.json()["result"]["chat"]["type"] == "supergroup"
    assert [(m["chat_id"], m["text"], m["reply_markup"]) for m in tg.sent] == [
        (7, "json", markup), (-1001234, "multipart", markup), (8, "get", None)]


def test_stop_ends_a_pending_long_poll_promptly():
    before = set(threading.enumerate())
    tg = FakeTelegram().start()
    url = f"{tg.base_url}/bot{tg.token}/getUpdates"

    def long_poll():
        with contextlib.suppress(httpx.HTTPError):  # stop() may cut the connection before the answer
            httpx.post(url, data={"timeout": "2"}, timeout=5)
    poll = threading.Thread(target=long_poll, daemon=True)
    poll.start()
    time.sleep(0.2)
    started = time.monotonic()
    tg.stop()
    poll.join(1.0)
    # The server's handler thread must end too, not sit out the rest of its 2 s poll.
    deadline = time.monotonic() + 0.5
    while any(t.is_alive() for t in set(threading.enumerate()) - before - {poll}) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert time.monotonic() - started < 1.0
    assert not poll.is_alive()
    assert not [t for t in set(threading.enumerate()) - before - {poll} if t.is_alive()]
