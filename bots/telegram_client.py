"""python-telegram-bot (v22) driven from sync code: one Bot, initialised once, on one long-lived event loop thread.

PTB is asyncio. surveyd's senders are threads (the relay's pool, Celery's thread pool, web requests), so
every call is handed to one loop that owns the Bot and its HTTP connection pool. Never `asyncio.run`
per send: a Bot's connection pool belongs to the loop that opened it.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any

from telegram import Bot
from telegram.request import HTTPXRequest

TELEGRAM_API = "https://api.telegram.org"
LONG_POLL_SECONDS = 25


class TelegramClient:
    """A PTB Bot living on its own event loop thread; `call` runs one Bot API method from any thread."""

    def __init__(self, token: str, api_base: str = TELEGRAM_API, timeout: float = 15.0, pool_size: int = 32):
        base = api_base.rstrip("/")
        self.timeout = timeout
        self.bot = Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=HTTPXRequest(connection_pool_size=pool_size, connect_timeout=timeout, read_timeout=timeout,
                                 write_timeout=timeout, pool_timeout=timeout),
            # A long poll holds its connection open: it gets a pool and a read timeout of its own.
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=LONG_POLL_SECONDS + timeout),
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="telegram-loop", daemon=True)
        self._thread.start()
        self._ready: asyncio.Future | None = None
        self._lock = threading.Lock()

    async def _initialised(self) -> Bot:
        # getMe once, on the loop, the first time anything is asked; concurrent first callers share it.
        if self._ready is None or (self._ready.done() and self._ready.exception() is not None):
            self._ready = asyncio.ensure_future(self.bot.initialize())  # again after a failed first try
        await asyncio.shield(self._ready)
        return self.bot

    async def _invoke(self, method: str, kwargs: dict[str, Any]) -> Any:
        bot = await self._initialised()
        return await getattr(bot, method)(**kwargs)

    def call(self, method: str, **kwargs: Any) -> Any:
        """Run `Bot.<method>(**kwargs)` on the loop and wait for its result (PTB's exceptions pass through)."""
        with self._lock:
            if self._loop.is_closed():
                raise RuntimeError("the Telegram client is closed")
            future = asyncio.run_coroutine_threadsafe(self._invoke(method, kwargs), self._loop)
        # PTB enforces its own timeouts; this outer bound only keeps a wedged loop from hanging a thread forever.
        return future.result(timeout=self.timeout * 4 + LONG_POLL_SECONDS)

    def close(self) -> None:
        """Shut the Bot down and stop the loop thread."""
        with self._lock:
            if self._loop.is_closed():
                return
            if self._ready is not None and self._ready.done() and self._ready.exception() is None:
                asyncio.run_coroutine_threadsafe(self.bot.shutdown(), self._loop).result(timeout=self.timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self.timeout)
            self._loop.close()
