"""The live feed of alerts: every open inbox hears of a new or changed alert the moment its transaction commits.

Within one process (`serve`) a condition variable wakes the waiting streams. With Redis configured (several web
processes, workers), each commit also publishes the alert ids on a Redis channel, and one subscriber thread per
process relays them to that process's streams. No stream polls the database: a stream reads only when woken.
"""
from __future__ import annotations

import collections
import json
import logging
import threading
from typing import Iterable

from flask import current_app, has_app_context

from surveyd.extensions import db

log = logging.getLogger(__name__)
CHANNEL = "surveyd:alerts"
_PENDING = "surveyd.feed"  # session.info key: alert ids the open transaction raised or changed


def announce(alert_id: int) -> None:
    """Tell the inboxes of this alert once the caller's transaction commits."""
    db.session.info.setdefault(_PENDING, set()).add(alert_id)


def after_commit(session) -> None:
    """Publish the alerts a transaction raised or changed, now that other connections can read them."""
    ids = session.info.pop(_PENDING, None)
    if not ids or not has_app_context():
        return
    try:
        current_feed().publish(sorted(ids))
    except Exception:  # an inbox that misses a push still shows the alert on its next load
        log.exception("could not announce alerts %s", sorted(ids))


def after_rollback(session, *_) -> None:
    """Nothing of a rolled-back transaction happened."""
    session.info.pop(_PENDING, None)


class LocalFeed:
    """This process's streams, woken together. Each publication gets a version; a stream asks for the alert ids
    published since the version it last saw, or learns that it fell too far behind and must read afresh."""

    KEEP = 1000  # publications remembered for streams that are catching up

    def __init__(self):
        self.cond = threading.Condition()
        self.version = 0
        self.generation = 0  # raised by end_streams: every stream started before it ends
        self.recent: collections.deque[tuple[int, tuple[int, ...]]] = collections.deque(maxlen=self.KEEP)

    def publish(self, alert_ids: Iterable[int]) -> None:
        """Wake every waiting stream with these alert ids."""
        self.push(alert_ids)

    def push(self, alert_ids: Iterable[int] | None) -> None:
        """Record a publication in this process and wake its streams; None: something was missed, re-read."""
        with self.cond:
            self.version += 1
            self.recent.append((self.version, None if alert_ids is None else tuple(alert_ids)))
            self.cond.notify_all()

    def end_streams(self) -> None:
        """Make every stream now open end (the server is stopping): each sees a new generation."""
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def wait(self, seen: int, timeout: float, generation: int | None = None) -> tuple[int, set[int] | None]:
        """Block until something was published after version `seen`, the generation moved on, or timeout.
        (version now, the alert ids published since `seen`); None for the ids when they are no longer all
        remembered."""
        with self.cond:
            self.cond.wait_for(lambda: self.version != seen or (generation is not None and
                                                                 self.generation != generation), timeout)
            if self.version == seen:
                return seen, set()
            since = [ids for version, ids in self.recent if version > seen]
            if not self.recent or self.recent[0][0] > seen + 1 or any(ids is None for ids in since):
                return self.version, None
            return self.version, {i for ids in since for i in ids}

    def stop(self) -> None:
        """Nothing to stop here."""


class RedisFeed(LocalFeed):
    """Across processes: publish on a Redis channel; one subscriber thread per process hears every publication
    (its own included) and wakes this process's streams."""

    def __init__(self, url: str, channel: str = CHANNEL):
        super().__init__()
        import redis

        self.redis, self.channel = redis.Redis.from_url(url), channel
        self.listener: threading.Thread | None = None
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def publish(self, alert_ids: Iterable[int]) -> None:
        """To every process's subscriber; if Redis cannot take it, at least to this process's streams."""
        ids = list(alert_ids)
        try:
            self.redis.publish(self.channel, json.dumps(ids))
        except Exception:
            log.exception("alert feed: could not publish on Redis; only this process's inboxes hear of %s", ids)
            self.push(ids)

    def wait(self, seen: int, timeout: float, generation: int | None = None) -> tuple[int, set[int] | None]:
        """As LocalFeed.wait, starting this process's subscriber on first use."""
        self._listen()
        return super().wait(seen, timeout, generation)

    def _listen(self) -> None:
        with self.lock:
            if self.listener is None:
                self.listener = threading.Thread(target=self._run, name="surveyd-alert-feed", daemon=True)
                self.listener.start()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                while not self.stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self.push(int(i) for i in json.loads(message["data"]))
            except Exception:  # Redis went away: streams read afresh, and this tries again shortly
                log.exception("alert feed: Redis subscription lost")
                self.push(None)  # what was missed is unknown: waiting streams re-read
                self.stopped.wait(1.0)

    def stop(self) -> None:
        """End the subscriber."""
        self.stopped.set()


_lock = threading.Lock()
_feeds: dict[str | None, LocalFeed] = {}  # one per process (and Redis URL): every app in it shares its streams


def current_feed() -> LocalFeed:
    """This process's feed, made on first use: through Redis when the app in context has Redis configured."""
    url = current_app.config["SURVEYD"].redis_url
    feed = _feeds.get(url)
    if feed is None:
        with _lock:
            feed = _feeds.get(url)
            if feed is None:
                feed = _feeds[url] = RedisFeed(url) if url else LocalFeed()
    return feed


def end_all_streams() -> None:
    """End every open stream of this process (a server stopping)."""
    for feed in list(_feeds.values()):
        feed.end_streams()
