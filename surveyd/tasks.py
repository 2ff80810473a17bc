"""Celery, the Flask way: tasks run inside an app context and take ids, never model objects.

The queue is only transport. A send task's whole job is `send_batch(ids)`, which claims its rows in the
database before any side effect, so a message delivered twice sends once.
"""
from __future__ import annotations

from celery import Celery, Task, shared_task
from flask import Flask

from surveyd.services.dispatch.relay import owner_name, run_send, run_send_batch


def celery_init_app(app: Flask) -> Celery:
    """A Celery app bound to this Flask app, kept in app.extensions["celery"]."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    settings = app.config["SURVEYD"]
    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(
        broker_url=settings.broker_url or "memory://",
        task_default_queue=settings.queue_name,
        task_ignore_result=True,
        # Ack after the task ran: a worker killed mid-task leaves the message for another worker.
        # A repeat is harmless because the task claims its row first.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=4,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
    )
    if (settings.broker_url or "").startswith("redis://"):
        from surveyd.redis_broker import NAME

        celery_app.conf.broker_transport = NAME  # survives a Redis outage (redis_broker.py says how)
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@shared_task(name="surveyd.send_dispatch", ignore_result=True)
def send_dispatch(dispatch_id: int) -> None:
    """Send one dispatch by id (the FlaskTask base has already pushed the app context); what relays published
    before they sent batches."""
    from flask import current_app

    run_send(current_app._get_current_object(), dispatch_id, owner_name())


@shared_task(name="surveyd.send_dispatches", ignore_result=True)
def send_dispatches(dispatch_ids: list[int]) -> None:
    """Send a batch of dispatches by id: claimed together, sent one after another."""
    from flask import current_app

    run_send_batch(current_app._get_current_object(), dispatch_ids, owner_name())


@shared_task(name="surveyd.send_notification", ignore_result=True)
def send_notification(notification_id: int) -> None:
    """Send one agent notification by id."""
    from flask import current_app

    from surveyd.services.alerts.notifier import run_notification

    run_notification(current_app._get_current_object(), notification_id, owner_name())


@shared_task(name="surveyd.send_webhook", ignore_result=True)
def send_webhook(delivery_id: int) -> None:
    """Send one outgoing webhook delivery by id."""
    from flask import current_app

    from surveyd.services.integrations.delivering import run_delivery

    run_delivery(current_app._get_current_object(), delivery_id, owner_name())


@shared_task(name="surveyd.label_comments", ignore_result=True)
def label_comments(response_id: int) -> None:
    """Read the wording of one response's new comments."""
    from flask import current_app

    from surveyd.services.answers.wording import run_labelling

    run_labelling(current_app._get_current_object(), response_id, owner_name())
