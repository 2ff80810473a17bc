"""Long polling (SURVEYD_TELEGRAM_MODE=polling): `serve` fetches Telegram updates itself, where Telegram cannot call.

Every update goes through telegram_updates.receive, the webhook's own path: kept once per update_id, acted on
once, answered in the chat. The offset moves past an update only once receive() is done with it, so a crash
fetches it again, and receive() makes that second delivery a no-op.
"""
from __future__ import annotations

import logging
import threading
from typing import Iterable

from flask import Flask
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from telegram import Update
from telegram.error import TelegramError

from bots.channel import WebhookRejected
from bots.telegram_bot import TelegramChannel
from surveyd.extensions import db
from surveyd.models import Channel
from surveyd.services.answers import telegram_updates
from surveyd.services.dispatch import channels

log = logging.getLogger("surveyd.telegram_polling")
ALLOWED_UPDATES = ["message", "callback_query"]
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def telegram_channel(app: Flask) -> TelegramChannel | None:
    """The app's real Telegram adapter; None when no bot token is set or Telegram is sandboxed."""
    with app.app_context():
        adapter = channels.adapter(Channel.TELEGRAM)
    return adapter if isinstance(adapter, TelegramChannel) else None


class Poller(threading.Thread):
    """Deletes the webhook, then long-polls getUpdates and hands each update to receive(), until stopped."""

    def __init__(self, app: Flask, long_poll_seconds: int = 25, backoff: tuple[float, float] = (1.0, 30.0)):
        super().__init__(name="surveyd-telegram-poller", daemon=True)
        channel = telegram_channel(app)
        if channel is None:
            raise ValueError("long polling needs SURVEYD_TELEGRAM_BOT_TOKEN, with telegram not sandboxed")
        self.app, self.client = app, channel.client
        self.long_poll_seconds = long_poll_seconds
        self.first_pause, self.max_pause = backoff
        self.offset: int | None = None
        self.webhook_deleted = False
        self.stopping = threading.Event()

    def run(self) -> None:
        """Poll until stopped; after a failure wait, longer each time up to the cap, and try again."""
        pause = 0.0
        while not self.stopping.wait(pause):
            pause = 0.0 if self.poll_once() else min(self.max_pause, max(self.first_pause, pause * 2))

    def poll_once(self) -> bool:
        """One round: delete the webhook (until done once), one getUpdates, take its updates; False on failure."""
        if not self.webhook_deleted:
            try:
                self.client.call("delete_webhook")
            except Exception as error:  # Telegram refuses getUpdates while a webhook is set: keep trying first
                log.warning("telegram: could not delete the webhook, trying again: %s", self.masked(error),
                            exc_info=not isinstance(error, TelegramError))
                return False
            self.webhook_deleted = True
            log.info("telegram: webhook deleted; long polling getUpdates")
        try:
            updates = self.client.call("get_updates", offset=self.offset, timeout=self.long_poll_seconds,
                                       allowed_updates=ALLOWED_UPDATES)
        except Exception as error:  # network, 5xx, or 409: a webhook was set again or another process polls this bot
            log.warning("telegram: getUpdates failed, trying again: %s", self.masked(error),
                        exc_info=not isinstance(error, TelegramError))
            return False
        return self.take_all(updates)

    def masked(self, error: Exception) -> str:
        """The error's message without the bot token (PTB's InvalidToken quotes it whole)."""
        return str(error).replace(self.client.bot.token, "<bot token>")

    def take_all(self, updates: Iterable[Update]) -> bool:
        """Take the updates in order, moving the offset past each one taken; False when one must be fetched again."""
        for update in updates:
            if self.stopping.is_set():
                return True  # the rest are not confirmed to Telegram yet: the next start fetches them
            if not self.take(update):
                return False
            if isinstance(update.update_id, int):
                self.offset = max(self.offset or 0, update.update_id + 1)
        return True

    def take(self, update: Update) -> bool:
        """Hand one update to receive() in an app context; False when the database is unavailable."""
        with self.app.app_context():
            try:
                telegram_updates.receive(update.to_dict())
            except WebhookRejected as error:
                log.warning("telegram: update %s skipped: %s", update.update_id, error)
            except DATABASE_UNAVAILABLE as error:
                # Nothing can be stored or answered until the database is back, so waiting holds up no other
                # update; skipping would lose one that may never have been stored.
                log.warning("telegram: update %s: database unavailable, fetching it again: %s",
                            update.update_id, error)
                return False
            except Exception:
                # Skipped rather than retried: an update that fails every time would otherwise hold up every later
                # one. receive() stores the raw update before acting on it, so it stays in inbound_messages,
                # unprocessed, for someone to look at.
                log.exception("telegram: update %s failed and is skipped", update.update_id)
            finally:
                db.session.remove()
        return True

    def stop(self, timeout: float | None = None) -> None:
        """End the loop; the long poll in flight returns within its timeout."""
        self.stopping.set()
        if self.is_alive():
            self.join(timeout if timeout is not None else self.long_poll_seconds + self.client.timeout + 5)
