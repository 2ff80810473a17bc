"""Who sends a notification once its row is committed: threads of this process, or Celery workers."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from surveyd.extensions import db

log = logging.getLogger(__name__)


def run_notification(app: Flask, notification_id: int, owner: str | None = None) -> None:
    """The body of the notification task: one row, inside an app context, never raising."""
    from surveyd.services.alerts.notifying import send_one

    with app.app_context():
        try:
            send_one(notification_id, owner)
        except Exception:  # the row stays due (or its lease lapses) and the sweep takes it up again
            log.exception("notification %s: send task failed", notification_id)
            db.session.rollback()
        finally:
            db.session.remove()


def alerts_queue(queue_name: str) -> str:
    """The Celery queue of agent notifications: their own, so a backlog of survey sends never holds one up."""
    return f"{queue_name}.alerts"


class ThreadNotifier:
    """Embedded mode: a few threads of this process send notifications as soon as they are committed."""

    name = "surveyd-notify"

    def __init__(self, app: Flask, threads: int = 4, owner: str | None = None):
        self.app, self.owner = app, owner
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="surveyd-notify")
        self.pending = 0  # handed over and not finished; read by tests and benchmarks waiting for quiet
        self.lock = threading.Lock()

    def submit(self, notification_id: int) -> None:
        """Send one notification on the pool."""
        with self.lock:
            self.pending += 1
        self.pool.submit(self._run, notification_id)

    def _run(self, notification_id: int) -> None:
        try:
            run_notification(self.app, notification_id, self.owner)
        finally:
            with self.lock:
                self.pending -= 1

    def stop(self) -> None:
        """Finish the sends already started."""
        self.pool.shutdown(wait=True, cancel_futures=True)


class CeleryNotifier:
    """Scaled mode: each notification becomes a Celery message, published after the commit that wrote it."""

    name = "surveyd-notify-celery"

    def __init__(self, app: Flask):
        self.celery = app.extensions["celery"]
        self.queue = alerts_queue(app.config["SURVEYD"].queue_name)

    def submit(self, notification_id: int) -> None:
        """Publish the send task; if the broker is down, the relay's sweep hands the row out later."""
        self.celery.send_task("surveyd.send_notification", args=[notification_id], queue=self.queue)

    def stop(self) -> None:
        """Nothing to wait for: the workers own the tasks."""
