"""Who sends a notification once its row is committed: threads of this process, or Celery workers.

The same sender takes the rows of other outboxes too (integrations' webhook deliveries) through submit_task,
with the task body to run here and the Celery task name to publish there.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from flask import Flask

from surveyd.services.dispatch.relay import run_in_app

log = logging.getLogger(__name__)
TaskBody = Callable[[Flask, int, "str | None"], None]  # run(app, row_id, owner), like run_notification


def run_notification(app: Flask, notification_id: int, owner: str | None = None) -> None:
    """The body of the notification task: one row."""
    from surveyd.services.alerts.notifying import send_one

    run_in_app(app, send_one, notification_id, owner, "notification")


def alerts_queue(queue_name: str) -> str:
    """The Celery queue of agent notifications: their own, so a backlog of survey sends never holds one up."""
    return f"{queue_name}.alerts"


class Later:
    """One thread that calls each scheduled function at its time (monotonic clock), in time order."""

    def __init__(self, name: str):
        self.name = name
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.cond = threading.Condition()
        self.stopped = False
        self.count = itertools.count()
        self.thread: threading.Thread | None = None

    def call(self, delay: float, fn: Callable[[], None]) -> None:
        """Run fn in `delay` seconds, from this scheduler's thread."""
        with self.cond:
            if self.stopped:
                return
            heapq.heappush(self.queue, (time.monotonic() + delay, next(self.count), fn))
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self.thread.start()
            self.cond.notify()

    def __len__(self) -> int:
        with self.cond:
            return len(self.queue)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopped and (not self.queue or self.queue[0][0] > time.monotonic()):
                    self.cond.wait(self.queue[0][0] - time.monotonic() if self.queue else None)
                if self.stopped:
                    return
                _, _, fn = heapq.heappop(self.queue)
            try:
                fn()
            except Exception:  # a hand-off that failed is found again by the relay's sweep
                log.exception("a scheduled hand-off failed")

    def stop(self) -> None:
        """Drop what has not come due: the rows stay scheduled in the database for the sweep."""
        with self.cond:
            self.stopped = True
            self.queue.clear()
            self.cond.notify()
        if self.thread is not None:
            self.thread.join(timeout=5)


class ThreadNotifier:
    """Embedded mode: threads of this process send notifications as soon as they are committed; each channel
    has its own, so a slow or rate-limited Slack never holds up an email."""

    name = "surveyd-notify"

    def __init__(self, app: Flask, threads: int = 4, owner: str | None = None):
        self.app, self.owner, self.threads = app, owner, threads
        self.pools: dict[str, ThreadPoolExecutor] = {}  # per channel, and per task of another outbox
        self.later = Later("surveyd-notify-later")
        self.pending = 0  # handed over and not finished; read by tests and benchmarks waiting for quiet
        self.lock = threading.Lock()

    def submit(self, notification_id: int, channel: str | None = None, delay: float = 0.0) -> None:
        """Send one notification on its channel's pool, now or after `delay` seconds."""
        if delay > 0:
            self.later.call(delay, lambda: self.submit(notification_id, channel))
            return
        self._pool(channel or "any").submit(self._run, run_notification, notification_id)

    def submit_task(self, task: str, run: TaskBody, row_id: int) -> None:
        """Run another outbox's task body for one row, on a pool of that task's own: a slow integrator's
        endpoint must never hold up an agent's alert."""
        self._pool(task).submit(self._run, run, row_id)

    def _pool(self, key: str) -> ThreadPoolExecutor:
        with self.lock:
            pool = self.pools.get(key)
            if pool is None:
                pool = self.pools[key] = ThreadPoolExecutor(
                    max_workers=self.threads, thread_name_prefix=f"surveyd-{key.rpartition('.')[2]}")
            self.pending += 1
        return pool

    def _run(self, run: TaskBody, row_id: int) -> None:
        try:
            run(self.app, row_id, self.owner)
        finally:
            with self.lock:
                self.pending -= 1

    def stop(self) -> None:
        """Finish the sends already started; those scheduled for later stay in the database for the sweep."""
        self.later.stop()
        with self.lock:
            pools = list(self.pools.values())
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


class CeleryNotifier:
    """Scaled mode: each notification becomes a Celery message, published after the commit that wrote it."""

    name = "surveyd-notify-celery"

    def __init__(self, app: Flask):
        self.celery = app.extensions["celery"]
        self.queue = alerts_queue(app.config["SURVEYD"].queue_name)

    def submit(self, notification_id: int, channel: str | None = None, delay: float = 0.0) -> None:
        """Publish the send task (held back `delay` seconds); if the broker is down, the relay's sweep hands the
        row out later."""
        self.celery.send_task("surveyd.send_notification", args=[notification_id], queue=self.queue,
                              countdown=delay or None)

    def submit_task(self, task: str, run: TaskBody, row_id: int) -> None:
        """Publish another outbox's Celery task for one row on the same queue, which workers read first."""
        self.celery.send_task(task, args=[row_id], queue=self.queue)

    def stop(self) -> None:
        """Nothing to wait for: the workers own the tasks."""
