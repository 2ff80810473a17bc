"""The Telegram adapter through the real python-telegram-bot, against a local fake Bot API server."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bots.channel import (
    AmbiguousChannelError,
    LookupUnsupported,
    OutboundMessage,
    PermanentChannelError,
    RateLimit,
    TransientChannelError,
    WebhookRejected,
)
from bots.telegram_bot import TelegramChannel, parse_update, verify_secret
from bots.telegram_client import TelegramClient
from tests.fakes.telegram_api import FakeTelegram, callback_update, message_update

CHAT = 424242


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def channel(fake):
    client = TelegramClient(fake.token, fake.base_url, timeout=1.0)
    yield TelegramChannel(client)
    client.close()


def _message(to: int = CHAT, buttons=None) -> OutboundMessage:
    return OutboundMessage(channel="telegram", to=str(to), text="How likely?", dispatch_id=7,
                           extra={"buttons": buttons} if buttons else {})


def test_a_survey_goes_out_with_its_buttons(channel, fake):
    rows = [[("0", "a:7:0:x"), ("1", "a:7:1:y")], [("2", "a:7:2:z")]]
    result = channel.send(_message(buttons=rows))
    (sent,) = fake.sent
    assert (sent["chat_id"], sent["text"]) == (CHAT, "How likely?")
    keyboard = [[(b["text"], b["callback_data"]) for b in row] for row in sent["reply_markup"]["inline_keyboard"]]
    assert keyboard == rows
    assert result.provider_message_id == f"{CHAT}:{sent['message_id']}"


def test_one_client_serves_many_threads_on_one_loop(channel, fake):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: channel.send(_message(to=1000 + n)), range(40)))
    assert len({r.provider_message_id for r in results}) == 40
    assert sorted(m["chat_id"] for m in fake.sent) == list(range(1000, 1040))
    loops = [t for t in threading.enumerate() if t.name == "telegram-loop"]
    assert len(loops) == 1  # every call went through the one loop thread this client owns
    get_me = [r for r in fake.requests if r["method"].lower() == "getme"]
    assert len(get_me) == 1  # the Bot was initialised once


def test_limits_are_the_bots_and_the_chats():
    channel = TelegramChannel(client=None)  # no call is made
    assert channel.rate_limits(_message()) == [RateLimit("telegram:bot", 30.0, burst=30),
                                               RateLimit(f"telegram:chat:{CHAT}", 1.0, burst=1)]
    assert TelegramChannel(client=None, per_second=0).rate_limits(_message()) == []


def test_a_group_also_has_its_twenty_a_minute():
    group = OutboundMessage(channel="telegram", to="-1001234567890", text="alert")
    assert TelegramChannel(client=None).rate_limits(group)[-1] == RateLimit("telegram:group:-1001234567890",
                                                                            20 / 60, burst=20)


def test_a_blocked_bot_is_an_opt_out_never_retried(channel, fake):
    fake.blocked.add(CHAT)
    with pytest.raises(PermanentChannelError) as refused:
        channel.send(_message())
    assert refused.value.code == "opted_out"


def test_an_unknown_chat_is_an_invalid_address(channel, fake):
    fake.unknown_chats.add(CHAT)
    with pytest.raises(PermanentChannelError) as refused:
        channel.send(_message())
    assert refused.value.code == "invalid_address"


def test_flood_control_carries_retry_after(channel, fake):
    fake.throttle_next(1, retry_after=3)
    with pytest.raises(TransientChannelError) as throttled:
        channel.send(_message())
    assert throttled.value.retry_after == 3
    assert channel.send(_message()).provider_message_id  # the next one goes through


def test_a_server_error_is_transient(channel, fake):
    fake.fail_next(1, status=502)
    with pytest.raises(TransientChannelError):
        channel.send(_message())


def test_no_answer_in_time_is_ambiguous_and_cannot_be_looked_up(channel, fake):
    fake.delay_after_store(2.0, n=1)
    with pytest.raises(AmbiguousChannelError):
        channel.send(_message())
    assert len(fake.sent) == 1  # Telegram has it although we never heard back
    with pytest.raises(LookupUnsupported):
        channel.lookup(_message(), since=None)


def test_a_tap_is_answered_and_the_message_edited(channel, fake):
    channel.send(_message(buttons=[[("9", "a:7:9:x")]]))
    (sent,) = fake.sent
    channel.acknowledge("cbq-1")
    channel.show_choice(str(CHAT), sent["message_id"], "How likely?\n\nYour answer: 9")
    channel.reply(str(CHAT), "Thanks!")
    assert [a["callback_query_id"] for a in fake.callback_answers] == ["cbq-1"]
    (edit,) = fake.edits
    assert edit["text"].endswith("Your answer: 9") and not (edit.get("reply_markup") or {}).get("inline_keyboard")
    assert fake.messages_to(CHAT)[-1] == "Thanks!"


def test_updates_are_read_into_inbound_events():
    tap = parse_update(callback_update(CHAT, 55, "a:7:9:x", update_id=1001, language_code="tr"))
    assert (tap.kind, tap.sender, tap.text, tap.provider_event_id) == ("tap", str(CHAT), "a:7:9:x", "1001")
    assert tap.answers["message_id"] == "55" and tap.answers["language_code"] == "tr" and tap.answers["callback_query_id"]
    text = parse_update(message_update(CHAT, "Great service", update_id=1002))
    assert (text.kind, text.text, text.provider_event_id) == ("message", "Great service", "1002")
    command = parse_update(message_update(CHAT, "/start abc", update_id=1003))
    assert (command.kind, command.text) == ("command", "/start abc")
    assert parse_update({"update_id": 1004, "edited_message": {}}).kind == "other"
    for bad in ({}, {"update_id": "1"}, [], "x", None):
        with pytest.raises(WebhookRejected) as refused:
            parse_update(bad)
        assert refused.value.status == 400


def test_the_secret_header_is_required_and_compared_exactly():
    verify_secret("s3cret", {"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "s3cre"}, {"X-Telegram-Bot-Api-Secret-Token": "S3CRET"}):
        with pytest.raises(WebhookRejected) as refused:
            verify_secret("s3cret", headers)
        assert refused.value.status == 403
    with pytest.raises(WebhookRejected, match="not configured"):
        verify_secret(None, {"X-Telegram-Bot-Api-Secret-Token": ""})


@pytest.mark.parametrize("chat", [{"id": {"nested": 1}}, {"id": 2**70}, {"id": True}, {"id": "12"}, [1], "x", None])
def test_a_chat_id_that_is_not_a_64_bit_integer_reads_as_no_sender(chat):
    # Found by the fuzz suite: str() of any JSON became the sender and overflowed its column on PostgreSQL.
    for update in ({"update_id": 5, "message": {"text": "9", "chat": chat, "from": [2]}},
                   {"update_id": 5, "callback_query": {"id": ["x"], "data": {"a": 1}, "message": {"chat": chat},
                                                       "from": "someone"}}):
        event = parse_update(update)
        assert event.sender is None
        assert all(isinstance(value, str) and len(value) <= 64 for value in event.answers.values())


def test_an_update_id_past_64_bits_is_refused():
    with pytest.raises(WebhookRejected):
        parse_update({"update_id": 2**64, "message": {"text": "9", "chat": {"id": 1}}})
