"""Sending webhook deliveries: claimed under a lease, signed for each try, retried on the Standard Webhooks
schedule, and the endpoint disabled when it answers 410 or has been failing for 24 hours.

A task claims its row and commits before the POST, like the agent-notification outbox. The body bytes and the
webhook-id stay the same on every try, so a receiver drops a repeat; a try whose worker died (lease lapsed)
is simply made again under the same id.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app

from bots.channel import (
    ChannelAdapter,
    OutboundMessage,
    PermanentChannelError,
    SendResult,
)
from bots.webhook_http import SignedWebhookChannel
from surveyd.extensions import db
from surveyd.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from surveyd.services.dispatch import channels, outbox
from surveyd.services.dispatch.relay import run_in_app
from surveyd.services.integrations import endpoints, notices
from surveyd.services.integrations.publishing import body_bytes
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)
TASK = "surveyd.send_webhook"  # the Celery task that runs run_delivery
# The Standard Webhooks example: after each failed try wait this long (about 75 hours in all), then give up.
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
FAILING_LIMIT = timedelta(hours=24)  # an endpoint failing this long without one success is disabled
GONE, FAILING = "gone", "failing for 24 hours"  # the reasons an endpoint is disabled
SEND_LEASE = timedelta(seconds=120)  # a try not finished by then is presumed crashed
HANDOUT_LEASE = timedelta(seconds=30)  # a handed-out row no task claimed by then is handed out again
SWEEP_EVERY_SECONDS = 1.0
HTTP_STATUS = re.compile(r"^HTTP (\d{3})\b")  # bots/outbound_http.classify names the status first


def retry_delay(failed_tries: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next try after this many failed ones (a longer Retry-After wins); None: give up."""
    if failed_tries > len(RETRY_SCHEDULE):
        return None
    return max(float(RETRY_SCHEDULE[failed_tries - 1]), retry_after or 0.0)


def _channel() -> ChannelAdapter:
    """The signing HTTP client of the app in context, built once; the sandbox when every channel is sandboxed."""
    cache = current_app.extensions.setdefault("surveyd.channels", {})
    if "webhook" not in cache:
        config = settings()
        cache["webhook"] = channels.sandbox_http_adapter("webhook") if channels.sandboxes_everything() else (
            SignedWebhookChannel(timeout=config.send_timeout_seconds, allow_private=config.outbound_allow_private))
    return cache["webhook"]


def _claim(delivery_id: int, owner: str | None, now: datetime) -> WebhookDelivery | None:
    claimed = db.session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == DeliveryStatus.SCHEDULED,
               WebhookDelivery.due_at <= now)
        .values(status=DeliveryStatus.SENDING, lease_owner=owner, lease_expires_at=now + SEND_LEASE,
                attempts=WebhookDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return None
    return db.session.get(WebhookDelivery, delivery_id, populate_existing=True)


def send_one(delivery_id: int, owner: str | None = None, now: datetime | None = None,
             channel: ChannelAdapter | None = None) -> DeliveryStatus | None:
    """Claim one delivery and POST it, signed for this try; None when it is not due or another task has it."""
    now = now or utcnow()
    row = _claim(delivery_id, owner, now)
    if row is None:
        return None
    endpoint = row.endpoint
    if endpoint.disabled_at is not None:  # written before the endpoint was disabled: no try is made
        row.status, row.lease_owner, row.lease_expires_at = DeliveryStatus.FAILED, None, None
        row.attempts -= 1
        row.last_error = f"endpoint disabled: {endpoint.disabled_reason}"
        db.session.commit()
        return row.status
    message = OutboundMessage(channel="webhook", to=endpoint.url, text=body_bytes(row.payload).decode("utf-8"),
                              extra={"secret": endpoint.secret, "webhook_id": row.msg_id,
                                     "timestamp": int(now.timestamp())})
    db.session.commit()  # release the transaction before talking to the receiver
    started = time.monotonic()
    try:
        outcome: SendResult | Exception = (channel or _channel()).send(message)
    except Exception as error:  # every failure is recorded below
        outcome = error
    elapsed_ms = int((time.monotonic() - started) * 1000)
    row = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if row is None:
        db.session.rollback()
        return None  # the endpoint was deleted meanwhile, and its deliveries with it
    return _finish(row, outcome, elapsed_ms, now)


def _finish(row: WebhookDelivery, outcome: SendResult | Exception, elapsed_ms: int, now: datetime) -> DeliveryStatus:
    endpoint = row.endpoint
    row.lease_owner = row.lease_expires_at = None
    if isinstance(outcome, SendResult):
        detail = dict(outcome.detail)
        row.status, row.delivered_at, row.last_status, row.last_error = (
            DeliveryStatus.DELIVERED, now, detail.get("status"), None)
        endpoint.failing_since = None  # one success ends the run of failures
        _attempt(row, now, detail.get("status"), None, detail.get("elapsed_ms", elapsed_ms), detail.get("body"))
        db.session.commit()
        return row.status
    error = (str(outcome) or type(outcome).__name__)[:300]
    found = HTTP_STATUS.match(error)
    row.last_status, row.last_error = (int(found.group(1)) if found else None), error
    _attempt(row, now, row.last_status, error, elapsed_ms, None)
    endpoint.failing_since = endpoint.failing_since or now
    was_enabled = endpoint.disabled_at is None
    if isinstance(outcome, PermanentChannelError) and outcome.code == "gone" and endpoint.disabled_at is None:
        endpoints.disable(endpoint, GONE, now)
        log.warning("webhook endpoint %s (%s) answered 410 Gone: disabled", endpoint.id, _where(endpoint.url))
    elif now - endpoint.failing_since >= FAILING_LIMIT and endpoint.disabled_at is None:
        endpoints.disable(endpoint, FAILING, now)
        # ERROR, not WARNING: the endpoint's owner must hear of it, and ERROR lines are what reaches admins.
        log.error("webhook endpoint %s (%s) has failed every try since %s: disabled, its pending deliveries "
                  "failed; last error: %s", endpoint.id, _where(endpoint.url), endpoint.failing_since, error)
    delay = None if isinstance(outcome, PermanentChannelError) or endpoint.disabled_at else retry_delay(
        row.attempts, getattr(outcome, "retry_after", None))
    if delay is None:
        row.status = DeliveryStatus.FAILED
        log.warning("webhook delivery %s (%s) failed for good after %s tries: %s", row.id, row.event_type,
                    row.attempts, error)
    else:
        row.status, row.due_at = DeliveryStatus.SCHEDULED, now + timedelta(seconds=delay)
        log.info("webhook delivery %s: retry in %.0fs: %s", row.id, delay, error)
    status, endpoint_id, where = row.status, endpoint.id, _where(endpoint.url)
    disabled_now = was_enabled and endpoint.disabled_at is not None
    db.session.commit()
    if disabled_now:  # the owner hears of it by mail too, not only from the log
        notices.endpoint_disabled(endpoint_id, where, error)
    return status


def _attempt(row: WebhookDelivery, at: datetime, status: int | None, error: str | None, elapsed_ms: int | None,
             response: str | None) -> None:
    db.session.add(WebhookAttempt(delivery_id=row.id, at=at, status=status, error=error, elapsed_ms=elapsed_ms,
                                  response=(response or "")[:200] or None))


def _where(url: str) -> str:
    """Scheme, host and port only: a URL's path or query may carry the integrator's token, and logs travel."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def sweep(now: datetime | None = None, limit: int = 200) -> int:
    """The relay's chore: recover tries whose worker died, hand out due deliveries nobody holds; how many."""
    now = now or utcnow()
    _recover_stuck(now)
    ids = outbox.hand_out_due(WebhookDelivery, DeliveryStatus.SCHEDULED, now, HANDOUT_LEASE, limit)
    submit = getattr(current_app.extensions.get("surveyd.notifier"), "submit_task", None)
    for delivery_id in ids:
        if submit is not None:
            submit(TASK, run_delivery, delivery_id)
        else:
            send_one(delivery_id, now=now)
    return len(ids)


def _recover_stuck(now: datetime) -> None:
    stuck = list(db.session.scalars(sa.select(WebhookDelivery).where(
        WebhookDelivery.status == DeliveryStatus.SENDING, WebhookDelivery.lease_expires_at < now).limit(200)))
    for row in stuck:
        # The receiver may have it; the same webhook-id lets it drop the repeat, so send again now.
        _attempt(row, now, None, f"the try's worker ({row.lease_owner}) stopped before it ended", None, None)
        row.status, row.due_at, row.lease_owner, row.lease_expires_at = DeliveryStatus.SCHEDULED, now, None, None
    db.session.commit()


def run_delivery(app: Flask, delivery_id: int, owner: str | None = None) -> None:
    """The body of the send_webhook task: one delivery."""
    run_in_app(app, send_one, delivery_id, owner, "webhook delivery")
