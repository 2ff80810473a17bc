"""Long polling seen from outside: `serve` with SURVEYD_TELEGRAM_MODE=polling and no webhook secret.

Invitations go out through the relay and the real python-telegram-bot to the fake Bot API; taps and messages
are queued on the fake with push_update and fetched by the Poller with getUpdates.
"""
from __future__ import annotations

import logging
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from telegram import Update

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import Channel, InboundMessage
from surveyd.server import run, start_background
from surveyd.services.answers import telegram_updates
from surveyd.services.answers.telegram_polling import Poller
from surveyd.services.dispatch.channels import adapters
from tests.conftest import free_port, make_env
from tests.fakes.telegram_api import FakeTelegram, callback_update, message_update
from tests.live import outside_client, relay_pass, served
from tests.test_telegram_live import buttons, invited, responses

LONG_POLL = 1
BACKOFF = (0.05, 0.2)


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


def polling_app(database_url, tmp_path, telegram: FakeTelegram, **overrides: str):
    """An app in polling mode talking to the fake Bot API, without SURVEYD_TELEGRAM_WEBHOOK_SECRET."""
    env = {"SURVEYD_SANDBOX": "email", "SURVEYD_TELEGRAM_MODE": "polling", "SURVEYD_TELEGRAM_BOT_TOKEN": telegram.token,
           "SURVEYD_TELEGRAM_API_BASE": telegram.base_url, "SURVEYD_RELAY_POLL_SECONDS": "0.1",
           "SURVEYD_SEND_TIMEOUT_SECONDS": "2"}
    return create_app(make_env(database_url, **{**env, **overrides}), instance_path=str(tmp_path))


def close_telegram(live) -> None:
    with live.app_context():
        adapter = adapters().get(Channel.TELEGRAM)
        if hasattr(adapter, "client"):
            adapter.client.close()  # the PTB loop thread of this app
        db.session.remove()
        db.engine.dispose()  # and its pooled database connections


@pytest.fixture
def live(database_url, tmp_path, telegram, app):
    """`serve` minus the poller: waitress and the relay, in polling mode; yields the app."""
    port = free_port()
    application = polling_app(database_url, tmp_path, telegram, SURVEYD_PUBLIC_URL=f"http://127.0.0.1:{port}")
    application.port = port
    with served(application, port, threads=4):
        yield application
    close_telegram(application)


@pytest.fixture
def bot(live):
    """An integrator's client with a Telegram-first NPS survey and trigger."""
    outside = outside_client(live, f"http://127.0.0.1:{live.port}")
    survey = outside.post("/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["en"]})
    outside.survey_id = survey["id"]
    outside.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["telegram"]})
    yield outside
    outside.session.close()


class PauseLog(threading.Event):
    """The poller's stop event, which also notes every pause the poller takes between polls."""

    def __init__(self):
        super().__init__()
        self.pauses: list[float] = []
        self.pausing = threading.Event()

    def wait(self, timeout=None):
        self.pauses.append(timeout)
        if timeout:
            self.pausing.set()
        return super().wait(timeout)


@pytest.fixture
def poller(live):
    """A Poller with a 1 s long poll and short pauses, not started; stopped after the test."""
    made = Poller(live, long_poll_seconds=LONG_POLL, backoff=BACKOFF)
    made.stopping = PauseLog()
    yield made
    made.stop()


@pytest.fixture
def received(monkeypatch):
    """The update_ids telegram_updates.receive has finished with, in order (the real receive runs first, so
    every effect of an update listed here, the chat's edits and answers included, has already happened)."""
    seen: list = []
    real = telegram_updates.receive

    def spy(update):
        try:
            return real(update)
        finally:
            seen.append(update.get("update_id"))

    monkeypatch.setattr(telegram_updates, "receive", spy)
    return seen


def eventually(check, timeout: float = 10.0):
    """check()'s first truthy answer, polled until timeout (then its last answer)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def score_tap(message: dict, label: str) -> dict:
    """The update Telegram sends when the button with this label is tapped on the survey message."""
    (data,) = [d for row in buttons(message) for text, d in row if text == label]
    return callback_update(message["chat_id"], message["message_id"], data)


def fresh_update_id() -> int:
    """An update_id after every one used so far (Telegram's ids only grow; the fake drops older ones)."""
    return message_update(1, "-")["update_id"]


def inbound(app) -> list[tuple[str, str, str | None]]:
    """(kind, update_id, outcome) of every stored Telegram update."""
    with app.app_context():
        rows = db.session.execute(sa.select(InboundMessage.kind, InboundMessage.provider_event_id,
                                            InboundMessage.outcome).order_by(InboundMessage.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def methods(telegram: FakeTelegram, name: str) -> list[dict]:
    return [r for r in telegram.requests if r["method"] == name]


def test_a_tap_fetched_by_long_polling_is_recorded_answered_and_shown(bot, telegram, poller):
    chat, dispatch, message = invited(bot, telegram)
    poller.start()
    update = score_tap(message, "9")
    telegram.push_update(update)
    assert eventually(lambda: telegram.edits), "the survey message was never edited"
    assert [a["callback_query_id"] for a in telegram.callback_answers] == [update["callback_query"]["id"]]
    (edit,) = telegram.edits
    assert edit["text"].endswith("Your answer: 9") and not (edit.get("reply_markup") or {}).get("inline_keyboard")
    assert eventually(lambda: telegram.messages_to(chat)[-1] == "Great to hear! What did you like most?")
    (stored,) = responses(bot)
    assert (stored["score"], stored["channel"]) == (9, "telegram")
    telegram.push_update(message_update(chat, "Fast courier"))
    assert eventually(lambda: telegram.messages_to(chat)[-1] == "Thank you! Your answer is saved.")
    assert bot.get(f"/dispatches/{dispatch['id']}")["status"] == "answered"
    assert eventually(lambda: telegram.pending_updates == [])  # confirmed: the offset moved past both
    polls = methods(telegram, "getUpdates")
    assert polls[0]["params"]["allowed_updates"] == ["message", "callback_query"]
    assert polls[0]["params"]["timeout"] == LONG_POLL


def test_the_same_update_twice_has_one_effect(bot, telegram, poller, received, live):
    _, _, message = invited(bot, telegram)
    update = score_tap(message, "2")
    telegram.push_update(update)
    telegram.push_update(update)  # Telegram redelivers after a crash: both arrive in one getUpdates
    poller.start()
    assert eventually(lambda: received.count(update["update_id"]) == 2 and telegram.pending_updates == [])
    assert len(telegram.edits) == 1 and len(telegram.callback_answers) == 1
    assert [r["score"] for r in responses(bot)] == [2]
    assert inbound(live) == [("tap", str(update["update_id"]), "score")]


def test_junk_updates_are_skipped_and_later_ones_still_taken(bot, telegram, poller, received, live):
    chat, _, message = invited(bot, telegram)
    bare = {"update_id": fresh_update_id()}
    edited = {"update_id": fresh_update_id(), "edited_message": message_update(chat, "7")["message"]}
    for update in (bare, edited):
        telegram.push_update(update)
    tap = score_tap(message, "8")
    telegram.push_update(tap)
    poller.start()
    assert eventually(lambda: len(received) >= 3), "the tap after the junk was never taken"
    assert received[:3] == [bare["update_id"], edited["update_id"], tap["update_id"]]
    assert [r["score"] for r in responses(bot)] == [8]
    kinds = {event_id: (kind, outcome) for kind, event_id, outcome in inbound(live)}
    assert kinds[str(bare["update_id"])] == ("other", "ignored")
    assert kinds[str(edited["update_id"])] == ("other", "ignored")  # an edit is not a new answer
    assert eventually(lambda: telegram.pending_updates == [])


def test_an_update_that_is_not_one_is_logged_and_skipped(bot, telegram, poller, live, caplog):
    _, _, message = invited(bot, telegram)
    tap = score_tap(message, "5")
    caplog.set_level(logging.WARNING, logger="surveyd.telegram_polling")
    assert poller.take_all([Update(update_id="seven"), Update.de_json(tap, None)]) is True  # type: ignore[arg-type]
    assert any("update seven skipped" in r.getMessage() for r in caplog.records), caplog.text
    assert inbound(live) == [("tap", str(tap["update_id"]), "score")]  # nothing kept for the junk
    assert poller.offset == tap["update_id"] + 1


def test_an_update_that_raises_is_skipped_not_retried(bot, telegram, poller, monkeypatch, caplog):
    _, _, message = invited(bot, telegram)
    broken, good = score_tap(message, "1"), score_tap(message, "10")
    calls: list[int] = []
    real = telegram_updates.receive

    def receive(update):
        calls.append(update["update_id"])
        if update["update_id"] == broken["update_id"]:
            raise RuntimeError("a bug in handling this update")
        return real(update)

    monkeypatch.setattr(telegram_updates, "receive", receive)
    telegram.push_update(broken)
    telegram.push_update(good)
    poller.start()
    assert eventually(lambda: responses(bot)), "the update after the failing one was never taken"
    assert [r["score"] for r in responses(bot)] == [10]
    assert eventually(lambda: telegram.pending_updates == [])
    assert calls.count(broken["update_id"]) == 1 and poller.is_alive()
    assert any("failed and is skipped" in r.getMessage() for r in caplog.records)


def test_an_update_that_failed_after_it_was_kept_is_acted_on_later_by_the_relay(bot, telegram, poller, live,
                                                                                 monkeypatch):
    from datetime import timedelta

    from surveyd.models import utcnow

    chat, _, message = invited(bot, telegram)
    tap = score_tap(message, "2")
    fixed = telegram_updates.take_update

    def broken(inbound_id, event):
        raise RuntimeError("a bug met after the update was kept")

    monkeypatch.setattr(telegram_updates, "take_update", broken)
    telegram.push_update(tap)
    poller.start()
    assert eventually(lambda: telegram.pending_updates == [])  # the poll moved on: Telegram will not send it again
    assert eventually(lambda: inbound(live) == [("tap", str(tap["update_id"]), None)])  # kept, not acted on
    assert responses(bot) == []

    monkeypatch.setattr(telegram_updates, "take_update", fixed)  # the fix is deployed
    with live.app_context():  # a few minutes pass
        db.session.execute(sa.update(InboundMessage).values(received_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
        db.session.remove()
    relay_pass(live)
    assert [r["score"] for r in responses(bot)] == [2]
    assert inbound(live) == [("tap", str(tap["update_id"]), "score")]
    (edit,) = telegram.edits
    assert edit["text"].endswith("Your answer: 2")  # the chat shows the choice, late but once
    assert telegram.messages_to(chat)[-1] == "We're sorry to hear that. What should we have done better?"


def test_while_the_database_is_unavailable_the_update_is_fetched_again(bot, telegram, poller, monkeypatch):
    _, _, message = invited(bot, telegram)
    tap = score_tap(message, "6")
    calls: list[int] = []
    real = telegram_updates.receive

    def receive(update):
        calls.append(update["update_id"])
        if len(calls) <= 2:
            raise OperationalError("SELECT 1", {}, Exception("could not connect to server"))
        return real(update)

    monkeypatch.setattr(telegram_updates, "receive", receive)
    telegram.push_update(tap)
    poller.start()
    assert eventually(lambda: responses(bot)), "the update was dropped instead of fetched again"
    # The offset moves on only once receive() is done, answers in the chat included: then count them.
    assert eventually(lambda: telegram.pending_updates == [])
    assert calls == [tap["update_id"]] * 3
    assert [r["score"] for r in responses(bot)] == [6] and len(telegram.edits) == 1


def test_the_webhook_is_deleted_first_and_a_refused_getupdates_is_retried(bot, telegram, poller, live):
    with live.app_context():
        client = adapters()[Channel.TELEGRAM].client
    client.call("set_webhook", url="https://example.test/webhooks/telegram")
    _, _, message = invited(bot, telegram)
    telegram.push_update(score_tap(message, "7"))
    poller.start()
    assert eventually(lambda: responses(bot)), "the poller never got past the webhook"
    names = [r["method"] for r in telegram.requests]
    assert names.index("deleteWebhook") < names.index("getUpdates")
    assert 409 not in {r["status"] for r in methods(telegram, "getUpdates")}  # None: the long poll in flight

    # A webhook set again while polling: getUpdates answers 409 until it is gone, and the poller keeps asking,
    # pausing twice as long after each refusal, up to the cap (BACKOFF), and not at all after a success.
    _, _, second = invited(bot, telegram)
    client.call("set_webhook", url="https://example.test/webhooks/telegram")
    assert eventually(lambda: len([r for r in methods(telegram, "getUpdates") if r["status"] == 409]) >= 4)
    telegram.push_update(score_tap(second, "3"))  # after the poll in flight ended: only a refused one gets it
    pauses = poller.stopping.pauses
    assert eventually(lambda: len([p for p in pauses if p]) >= 4)
    backing_off = next(i for i, pause in enumerate(pauses) if pause)
    first, cap = BACKOFF
    assert set(pauses[:backing_off]) == {0.0}  # no pause while polls succeeded
    assert pauses[backing_off:backing_off + 4] == [first, first * 2, cap, cap], pauses
    assert len(responses(bot)) == 1 and poller.is_alive()
    client.call("delete_webhook")
    assert eventually(lambda: len(responses(bot)) == 2), "the poller did not recover after the 409s"
    assert len(methods(telegram, "deleteWebhook")) == 2  # its own, once, and this test's


@pytest.mark.parametrize("webhook", [False, True], ids=["in-a-long-poll", "in-a-backoff-pause"])
def test_stop_ends_the_thread_promptly(live, telegram, webhook):
    if webhook:
        with live.app_context():
            adapters()[Channel.TELEGRAM].client.call("set_webhook", url="https://example.test/webhooks/telegram")
    poller = Poller(live, long_poll_seconds=LONG_POLL, backoff=(3600.0, 3600.0))
    poller.stopping = PauseLog()
    poller.webhook_deleted = webhook  # keep the webhook, so every getUpdates is refused
    poller.start()
    if webhook:
        assert poller.stopping.pausing.wait(30), "the poller never paused after a refused getUpdates"
    else:
        assert eventually(lambda: methods(telegram, "getUpdates"))  # the long poll is in flight
    # An hour's pause, or a poll after the one in flight, would outlast this join: the thread ended because
    # stop() cut the pause short, or because the loop looked at it as soon as the long poll came back.
    poller.stop(timeout=30)
    assert not poller.is_alive()
    if webhook:
        assert len(methods(telegram, "getUpdates")) == 1  # refused once, then paused until stopped


def test_serve_starts_the_poller_in_polling_mode_without_a_webhook_secret(database_url, tmp_path, telegram,
                                                                        app, monkeypatch, caplog):
    import waitress

    live = polling_app(database_url, tmp_path, telegram)
    assert live.config["SURVEYD"].telegram_webhook_secret is None
    seen: dict = {}

    def serve(application, **kwargs):
        assert application is live
        seen["threads"] = {t.name for t in threading.enumerate()}
        seen["polled"] = eventually(lambda: methods(telegram, "getUpdates"))

    monkeypatch.setattr(waitress, "serve", serve)
    caplog.set_level(logging.INFO, logger="surveyd.server")
    try:
        run(live, host="127.0.0.1", port=free_port())
    finally:
        close_telegram(live)
    assert {"surveyd-telegram-poller", "surveyd-relay"} <= seen["threads"]
    assert seen["polled"], "the poller never called getUpdates"
    names = [r["method"] for r in telegram.requests]
    assert names.index("deleteWebhook") < names.index("getUpdates")
    assert "surveyd-telegram-poller" not in {t.name for t in threading.enumerate()}  # stopped on the way out
    assert any("polling is on" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("overrides", [{"SURVEYD_TELEGRAM_MODE": "webhook"}, {"SURVEYD_SANDBOX": "1"}],
                         ids=["webhook-mode", "telegram-sandboxed"])
def test_no_poller_without_polling_mode_and_a_real_bot(database_url, tmp_path, telegram, app, overrides, caplog):
    live = polling_app(database_url, tmp_path, telegram, **overrides)
    caplog.set_level(logging.INFO, logger="surveyd.server")
    started = start_background(live)
    try:
        assert [t.name for t in started] == ["surveyd-notify", "surveyd-relay"]
    finally:
        for thread in started:
            thread.stop()
    assert not methods(telegram, "deleteWebhook") and not methods(telegram, "getUpdates")
    if overrides.get("SURVEYD_SANDBOX"):
        assert any("not polling" in r.getMessage() for r in caplog.records)
    close_telegram(live)


def test_a_rejected_token_is_retried_without_being_logged(database_url, tmp_path, telegram, app, caplog):
    live = polling_app(database_url, tmp_path, telegram, SURVEYD_TELEGRAM_BOT_TOKEN="123:revoked-token-value")
    caplog.set_level(logging.WARNING, logger="surveyd.telegram_polling")
    poller = Poller(live, long_poll_seconds=LONG_POLL, backoff=BACKOFF)
    poller.start()
    try:
        assert eventually(lambda: len([r for r in methods(telegram, "getMe") if r["status"] == 401]) >= 2)
        assert poller.is_alive() and not methods(telegram, "getUpdates")
    finally:
        poller.stop()
        close_telegram(live)
    assert "could not delete the webhook" in caplog.text and "<bot token>" in caplog.text
    assert "revoked-token-value" not in caplog.text
