"""The notification outbox: one row per alert event and target, sent once, retried with backoff, logged.

Rows are written in the answer's transaction (raising.py). The moment that transaction commits, the
new ids are handed to this process's notifier (a thread pool in `serve`, a Celery task at scale), so an
agent hears within a second instead of at the next poll; the relay's sweep is the safety net for a
hand-off that was lost. A task claims its row under a lease and commits before calling the provider;
the unique (alert, event, target) row and the claim make a redelivered answer, a double submit or two
workers send one message. A send whose worker died mid-call is sent again, flagged possible_duplicate:
an agent told twice is better than an agent never told.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from flask import current_app, has_app_context

from bots.channel import (
    OutboundMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)
from surveyd.extensions import db
from surveyd.models import (
    Alert,
    Notification,
    NotificationAttempt,
    NotificationStatus,
    utcnow,
)
from surveyd.services.alerts import activity, rendering
from surveyd.services.alerts.targets import Answered, matching, target_key
from surveyd.services.dispatch import channels, outbox
from surveyd.services.dispatch.sending import retry_delay
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 10  # with the default backoff (10 s doubling, capped at an hour) about 45 minutes of trying
SEND_LEASE = timedelta(seconds=120)  # a send not finished by then is presumed crashed
HANDOUT_LEASE = timedelta(seconds=30)  # a handed-out row no task claimed by then is handed out again
SWEEP_EVERY_SECONDS = 1.0
SENDABLE = ("email", "telegram", "slack")
FOLDABLE = ("telegram", "slack")  # targets with a per-minute or per-second limit a burst can outrun
# A rate-limited alert is folded into the target's digest when others queue behind it for the same target, or
# when its own wait (a provider's Retry-After) is longer than this: the limiter's next-token wait alone is at
# most one token's time, so the backlog is what tells a burst from a lone alert.
FOLD_AFTER_SECONDS = 2.0
_PENDING = "surveyd.notifications"  # session.info key: rows written in the open transaction


HAND_OFF_WITHIN_SECONDS = 10.0  # a row due sooner than this is handed to the sender for its due time; later, the sweep


class Notifier(Protocol):
    """Where notification ids go to be sent: a thread pool here, or Celery workers."""

    def submit(self, notification_id: int, channel: str | None = None, delay: float = 0.0) -> None:
        """Send one notification in `delay` seconds, on the sender of its channel (targets never wait on each other)."""


def plan(alert: Alert, event: str, targets: list[dict[str, Any]], answered: Answered | None) -> list[Notification]:
    """Write a row for each target that should hear of this alert event and has not yet (flushes)."""
    chosen = matching(targets, answered) if answered is not None else list(targets)
    have = {n.target_key for n in alert.notifications if n.event == event}
    planned = []
    for target in chosen:
        key = target_key(target)
        if key in have or target["channel"] not in SENDABLE:
            continue
        row = Notification(alert=alert, event=event, channel=target["channel"], target_key=key, target=target,
                           due_at=utcnow())
        db.session.add(row)
        planned.append(row)
    if planned:
        db.session.flush()
        for row in planned:
            _hand_off(row)
    return planned


def enqueue(alert: Alert, event: str, target: dict[str, Any], key: str) -> Notification:
    """One row for one target outside the alert rule (an agent's reply to the customer), handed over on commit."""
    row = Notification(alert=alert, event=event, channel=target["channel"], target_key=key, target=target,
                       due_at=utcnow())
    db.session.add(row)
    db.session.flush()
    _hand_off(row)
    return row


def _hand_off(row: Notification, delay: float = 0.0) -> None:
    """Give this row to the sender once the open transaction commits, to be sent `delay` seconds later."""
    if delay <= HAND_OFF_WITHIN_SECONDS:
        db.session.info.setdefault(_PENDING, []).append((row.id, row.channel, max(0.0, delay)))


def after_commit(session) -> None:
    """Hand the rows a transaction wrote to the notifier, now that they are visible to other connections."""
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    notifier = current_app.extensions.get("surveyd.notifier")
    if notifier is None:
        return  # no sender in this process: the relay's sweep will find the rows
    for notification_id, channel, delay in pending:
        try:
            notifier.submit(notification_id, channel, delay)
        except Exception:  # the broker is down: the sweep hands it out later
            log.exception("notification %s: could not hand it to a sender", notification_id)


def after_rollback(session, *_) -> None:
    """Rows of a rolled-back transaction do not exist: forget them."""
    session.info.pop(_PENDING, None)


def sweep(now: datetime | None = None, limit: int = 200) -> int:
    """The relay's chore: recover sends that died, hand out due rows nobody holds; the number handed out."""
    now = now or utcnow()
    _recover_stuck(now)
    ids = outbox.hand_out_due(Notification, NotificationStatus.SCHEDULED, now, HANDOUT_LEASE, limit)
    notifier = current_app.extensions.get("surveyd.notifier")
    if notifier is None:
        for notification_id in ids:
            send_one(notification_id)
        return len(ids)
    channel_of = dict(db.session.execute(sa.select(Notification.id, Notification.channel)
                                         .where(Notification.id.in_(ids))).all()) if ids else {}
    db.session.rollback()
    for notification_id in ids:
        notifier.submit(notification_id, channel_of.get(notification_id))
    return len(ids)


def _recover_stuck(now: datetime) -> None:
    stuck = list(db.session.scalars(sa.select(Notification).where(
        Notification.status == NotificationStatus.SENDING, Notification.lease_expires_at < now).limit(200)))
    for row in stuck:
        # The provider may have it: send again rather than leave the agent uninformed, and say so.
        _log(row, "lease_expired", {"owner": row.lease_owner})
        row.status, row.possible_duplicate, row.due_at = NotificationStatus.SCHEDULED, True, now
        row.lease_owner = row.lease_expires_at = None
    db.session.commit()


def _claim(notification_id: int, owner: str | None, now: datetime) -> Notification | None:
    claimed = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, Notification.status == NotificationStatus.SCHEDULED,
               Notification.due_at <= now)
        .values(status=NotificationStatus.SENDING, lease_owner=owner, lease_expires_at=now + SEND_LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return None
    return db.session.get(Notification, notification_id, populate_existing=True)


def send_one(notification_id: int, owner: str | None = None) -> NotificationStatus | None:
    """Claim, render and send one notification; None when it is not due or another task has it."""
    now = utcnow()
    row = _claim(notification_id, owner, now)
    if row is None:
        return None
    adapter = channels.notification_adapter(row.channel)
    if adapter is None:
        return _finish(row, PermanentChannelError(f"the {row.channel} channel is not configured here", "no_channel"))
    foldable = row.channel in FOLDABLE and row.event in ("created", "escalated")
    if foldable and (digest := _open_digest(row)) is not None:
        return _fold(row, digest, now)  # one is already waiting for the limit: join it, keep the order
    # Pacing needs only the address: a row that must wait costs no rendering (the customer's history, buttons).
    limits = adapter.rate_limits(OutboundMessage(channel=row.channel, to=rendering.address(row), text=""))
    wait = _rate_wait(limits)
    if foldable and wait > 0 and (wait > FOLD_AFTER_SECONDS or _queued_behind(row)):
        return _fold(row, None, now, wait)
    if wait > 0:
        row.status, row.due_at, row.lease_owner, row.lease_expires_at = (
            NotificationStatus.SCHEDULED, now + timedelta(seconds=wait), None, None)
        _hand_off(row, wait)  # back at the sender when the token is there, not at the next sweep
        db.session.commit()
        return row.status
    message = rendering.message_for(row)
    row.attempts += 1
    db.session.commit()  # release the transaction before talking to a provider
    try:
        outcome: SendResult | Exception = adapter.send(message)
    except Exception as error:  # every failure is recorded below
        outcome = error
    row = db.session.get(Notification, notification_id, populate_existing=True)
    if row is None:  # the alert was erased while we were sending
        db.session.rollback()
        return None
    return _finish(row, outcome, limits)


def _queued_behind(row: Notification) -> bool:
    """Whether other alerts wait for the same target: a burst, which one digest serves better than a queue."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.target_key == row.target_key, Notification.id != row.id,
        Notification.status == NotificationStatus.SCHEDULED)) > 0


def _open_digest(row: Notification) -> Notification | None:
    """The digest for this target that is still waiting to go out, if any, locked until this transaction ends: two
    workers folding into it at once would each write its list of alerts, and one alert would be lost from it."""
    return db.session.scalar(sa.select(Notification).where(
        Notification.event == "digest", Notification.status == NotificationStatus.SCHEDULED,
        Notification.target_key.like(f"{row.target_key}#digest:%")).order_by(Notification.id).limit(1)
        .with_for_update().execution_options(populate_existing=True))


def _fold(row: Notification, digest: Notification | None, now: datetime, wait: float = 0.0) -> NotificationStatus:
    """Carry this alert in the target's digest (made now, due when the limit allows) instead of on its own."""
    folding = [row]
    if digest is None:
        target = {key: value for key, value in row.target.items() if key != "when"}
        digest = Notification(alert_id=row.alert_id, event="digest", channel=row.channel, due_at=now + timedelta(
            seconds=wait), target_key=f"{row.target_key}#digest:{row.id}", target={**target, "alert_ids": []})
        db.session.add(digest)
        db.session.flush()
        _hand_off(digest, wait)  # out the moment the limit allows
        # Alerts already waiting for this target's token ride along: one message, instead of each taking a turn.
        folding = sorted([*_take_waiting(row), row], key=lambda r: r.id)
    digest.target = {**digest.target, "alert_ids": [*digest.target["alert_ids"], *(r.alert_id for r in folding)]}
    for each in folding:
        each.status, each.lease_owner, each.lease_expires_at = NotificationStatus.FOLDED, None, None
        each.provider_message_id = f"digest:{digest.id}"
        _log(each, "folded", {"digest": digest.id, "wait": round(wait, 1)})
    db.session.commit()
    return row.status


def _take_waiting(row: Notification) -> list[Notification]:
    """The alerts scheduled for this row's target that no sender holds, to be folded with it. Rows another
    transaction holds (a sender claiming, another worker folding) are skipped, not waited for: waiting on each
    other's rows is how two folding workers deadlock."""
    return list(db.session.scalars(outbox.skip_locked(sa.select(Notification).where(
        Notification.target_key == row.target_key, Notification.id != row.id,
        Notification.event.in_(("created", "escalated")), Notification.status == NotificationStatus.SCHEDULED)
        .order_by(Notification.id).limit(200)).execution_options(populate_existing=True)))


def _rate_wait(limits) -> float:
    try:
        return channels.limiter().acquire(limits)
    except Exception:  # the shared limiter is down: wait rather than exceed a provider's limit
        log.exception("rate limiter unavailable")
        return 1.0


def _finish(row: Notification, outcome: SendResult | Exception, limits=()) -> NotificationStatus:
    now = utcnow()
    row.lease_owner = row.lease_expires_at = None
    if isinstance(outcome, SendResult):
        row.status, row.sent_at, row.last_error = NotificationStatus.SENT, now, None
        row.provider_message_id = outcome.provider_message_id
        _log(row, "sent", {"provider_message_id": outcome.provider_message_id, **dict(outcome.detail)})
        told = [db.session.get(Alert, i) for i in row.target["alert_ids"]] if row.event == "digest" else [row.alert]
        for alert in filter(None, told):  # a digest tells every alert folded into it
            activity.record(alert, activity.SYSTEM, "reply_delivered" if row.event == "reply" else "notified",
                            {"channel": row.channel, "event": row.event, "notification_id": row.id})
    elif isinstance(outcome, PermanentChannelError):
        row.status, row.last_error = NotificationStatus.FAILED, _text(outcome)
        _log(row, "failed", {"error": row.last_error, "code": outcome.code})
        activity.record(row.alert, activity.SYSTEM, "notification_failed",
                        {"channel": row.channel, "event": row.event, "error": row.last_error})
        log.warning("notification %s (%s) failed for good: %s", row.id, row.channel, row.last_error)
    elif row.attempts >= MAX_ATTEMPTS:
        row.status, row.last_error = NotificationStatus.FAILED, _text(outcome)
        _log(row, "failed", {"error": row.last_error, "code": "retries_exhausted"})
        activity.record(row.alert, activity.SYSTEM, "notification_failed",
                        {"channel": row.channel, "event": row.event, "error": row.last_error})
        log.error("notification %s (%s) given up after %s tries: %s", row.id, row.channel, row.attempts,
                  row.last_error)
    else:
        _retry_later(row, outcome, limits, now)
    db.session.commit()
    return row.status


def _retry_later(row: Notification, outcome: Exception, limits, now: datetime) -> None:
    config = settings()
    delay = retry_delay(row.attempts, config.retry_base_seconds, config.retry_max_seconds)
    retry_after = getattr(outcome, "retry_after", None)
    if retry_after:
        delay = max(delay, retry_after)
        for limit in limits:  # the provider asked every sender to slow down
            try:
                channels.limiter().pause(limit.key, retry_after)
            except Exception:
                log.exception("could not pause rate limit %s", limit.key)
    if not isinstance(outcome, TransientChannelError):
        # A lost answer or an error we do not understand: the provider may have it; the resend says so.
        row.possible_duplicate = True
    row.status, row.due_at, row.last_error = NotificationStatus.SCHEDULED, now + timedelta(seconds=delay), _text(outcome)
    _log(row, "retrying", {"error": row.last_error, "retry_in": round(delay, 1), "retry_after": retry_after})
    log.info("notification %s (%s): retry in %.1fs: %s", row.id, row.channel, delay, row.last_error)


def _log(row: Notification, outcome: str, detail: dict[str, Any]) -> None:
    db.session.add(NotificationAttempt(notification_id=row.id, at=utcnow(), outcome=outcome,
                                       detail={"attempt": row.attempts, **detail}))


def _text(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:300]
