"""Who sends a notification once its row is committed: threads of this process, or Celery workers.

The same sender takes the rows of other outboxes too (integrations' webhook deliveries) through submit_task,
with the task body to run here and the Celery task name to publish there.
"""
from __future__ import annotations

import logging
import threading
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


class ThreadNotifier:
    """Embedded mode: a few threads of this process send notifications as soon as they are committed."""

    name = "surveyd-notify"

    def __init__(self, app: Flask, threads: int = 4, owner: str | None = None):
        self.app, self.owner, self.threads = app, owner, threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="surveyd-notify")
        self.others: dict[str, ThreadPoolExecutor] = {}  # per task of another outbox
        self.pending = 0  # handed over and not finished; read by tests and benchmarks waiting for quiet
        self.lock = threading.Lock()

    def submit(self, notification_id: int) -> None:
        """Send one notification on the pool."""
        with self.lock:
            self.pending += 1
        self.pool.submit(self._run, run_notification, notification_id)

    def submit_task(self, task: str, run: TaskBody, row_id: int) -> None:
        """Run another outbox's task body for one row, on a pool of that task's own: a slow integrator's
        endpoint must never hold up an agent's alert."""
        with self.lock:
            pool = self.others.get(task)
            if pool is None:
                pool = self.others[task] = ThreadPoolExecutor(
                    max_workers=self.threads, thread_name_prefix=f"surveyd-{task.rpartition('.')[2]}")
            self.pending += 1
        pool.submit(self._run, run, row_id)

    def _run(self, run: TaskBody, row_id: int) -> None:
        try:
            run(self.app, row_id, self.owner)
        finally:
            with self.lock:
                self.pending -= 1

    def stop(self) -> None:
        """Finish the sends already started."""
        for pool in (self.pool, *self.others.values()):
            pool.shutdown(wait=True, cancel_futures=True)


class CeleryNotifier:
    """Scaled mode: each notification becomes a Celery message, published after the commit that wrote it."""

    name = "surveyd-notify-celery"

    def __init__(self, app: Flask):
        self.celery = app.extensions["celery"]
        self.queue = alerts_queue(app.config["SURVEYD"].queue_name)

    def submit(self, notification_id: int) -> None:
        """Publish the send task; if the broker is down, the relay's sweep hands the row out later."""
        self.celery.send_task("surveyd.send_notification", args=[notification_id], queue=self.queue)

    def submit_task(self, task: str, run: TaskBody, row_id: int) -> None:
        """Publish another outbox's Celery task for one row on the same queue, which workers read first."""
        self.celery.send_task(task, args=[row_id], queue=self.queue)

    def stop(self) -> None:
        """Nothing to wait for: the workers own the tasks."""
