"""The task's side of the outbox: claim one dispatch, send it once, and record what happened.

The claim and the "sending" step commit before the provider is called, so a slow provider holds
no lock and a crash mid-call leaves a row the relay can see (its lease lapses, it becomes unknown,
and it is reconciled). Transient failures retry with exponential backoff and jitter, in the
database; permanent failures fall back to the trigger's next channel; an ambiguous failure is
never resent before the provider has been asked whether it has the message.
"""
from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from bots.channel import (
    AmbiguousChannelError,
    LookupUnsupported,
    OutboundMessage,
    PermanentChannelError,
    SendResult,
    TransientChannelError,
)
from surveyd.extensions import db
from surveyd.models import ConsentState, Dispatch, DispatchStatus, utcnow
from surveyd.services.audience.contacts import set_consent
from surveyd.services.dispatch import channels, outbox
from surveyd.services.dispatch.messages import compose
from surveyd.services.dispatch.planning import (
    next_channel,
    plan_reminder,
    quiet_hours_release,
    record_status,
    schedule,
    unusable_reason,
)
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)
LOOKUP_MARGIN = timedelta(minutes=2)  # clocks differ: look a little before our first try
RATE_WAIT_INLINE = 0.25  # seconds a task may sleep for a token before handing the wait back to the database


def retry_delay(attempt: int, base: float, cap: float, rng=random.random) -> float:
    """Exponential backoff with equal jitter: half the step for sure, the other half at random."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step / 2 + rng() * step / 2


def _claim(dispatch_id: int, owner: str | None, now: datetime) -> Dispatch | None:
    """Take a queued dispatch for this task under a send lease (not yet committed); None if it is not ours."""
    claimed = db.session.execute(
        sa.update(Dispatch)
        .where(Dispatch.id == dispatch_id, Dispatch.status == DispatchStatus.QUEUED)
        .values(status=DispatchStatus.SENDING, lease_owner=owner, updated_at=now,
                lease_expires_at=now + timedelta(seconds=settings().send_lease_seconds))
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return None
    return _load(dispatch_id)


SEND_READS = (Dispatch.contact, Dispatch.trigger, Dispatch.survey_version, Dispatch.survey)


def _load(dispatch_id: int, lock: bool = False, related=SEND_READS) -> Dispatch:
    """A dispatch with what a send reads (`related`), in one query (locked on PostgreSQL when asked); anything
    else it touches loads when touched."""
    query = (
        sa.select(Dispatch).where(Dispatch.id == dispatch_id)
        .options(*(orm.joinedload(relation) for relation in related))
        .execution_options(populate_existing=True)
    )
    if lock and db.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=Dispatch)
    return db.session.scalars(query).unique().one()


def _release(dispatch: Dispatch) -> None:
    dispatch.lease_owner = dispatch.lease_expires_at = None


def _held(dispatch: Dispatch, now: datetime) -> bool:
    """Settle a dispatch that must not go out now (expired, answered, quiet hours, channel gone); True if held."""
    if dispatch.expires_at <= now:
        record_status(dispatch, DispatchStatus.EXPIRED, "expired_before_send")
    elif dispatch.parent_id and dispatch.parent.status == DispatchStatus.ANSWERED:
        record_status(dispatch, DispatchStatus.SUPPRESSED, "answered")
    elif quiet_hours_release(dispatch.trigger, dispatch.contact, now) is not None:
        schedule(dispatch, dispatch.trigger, dispatch.contact, now)  # moved to the end of the quiet hours
    elif (reason := unusable_reason(dispatch.channel, dispatch.contact)) is not None:
        fall_back(dispatch, reason, now, {"at": "claim"})
    else:
        return False
    _release(dispatch)
    return True


def send_one(dispatch_id: int, owner: str | None = None) -> DispatchStatus | None:
    """Claim, render and send one queued dispatch; None when another task has it."""
    now = utcnow()
    dispatch = _claim(dispatch_id, owner, now)
    if dispatch is None:
        return None
    if _held(dispatch, now):
        db.session.commit()
        return dispatch.status
    adapter = channels.adapter(dispatch.channel)
    message = compose(dispatch)
    if _rate_limited(dispatch, adapter.rate_limits(message)):
        db.session.commit()
        return dispatch.status
    dispatch.attempts += 1
    reconcile = dispatch.reconcile
    since = _first_try_on_channel(dispatch) - LOOKUP_MARGIN if reconcile else None
    record_status(dispatch, DispatchStatus.SENDING, detail={"attempt": dispatch.attempts, "owner": owner})
    # Release the transaction before talking to a provider: a slow provider must not hold a lock.
    db.session.commit()
    outcome: SendResult | Exception
    try:
        outcome = _reconciled(dispatch, adapter, message, since) if reconcile else None
        if outcome is None:
            outcome = adapter.send(message)
    except Exception as error:  # every failure is recorded below; none escapes to the task runner
        outcome = error
    # By its id: the row the commit above expired is read once, locked, by _record_outcome.
    status = _record_outcome(dispatch_id, outcome, adapter.rate_limits(message))
    db.session.commit()
    return status


def _record_outcome(dispatch_id: int, outcome: SendResult | Exception, limits) -> DispatchStatus:
    """Record what the provider said, on the row as it is now (the customer may have answered meanwhile)."""
    # The row as it is now, with its trigger (a sent invitation plans its reminder); the contact loads only when a
    # failure needs it to choose the next channel.
    dispatch = _load(dispatch_id, lock=True, related=(Dispatch.trigger,))
    if dispatch.status == DispatchStatus.ANSWERED:
        # The answer came in while we were sending (a fast customer, or a slow provider): it stands,
        # and the send's outcome is kept in the history only.
        if isinstance(outcome, SendResult):
            record_status(dispatch, DispatchStatus.SENT, "after_answer",
                          {"provider_message_id": outcome.provider_message_id})
        else:
            record_status(dispatch, DispatchStatus.FAILED, "after_answer", {"error": _text(outcome)})
        dispatch.status, dispatch.reason = DispatchStatus.ANSWERED, None
    elif dispatch.status not in (DispatchStatus.SENDING, DispatchStatus.UNKNOWN):
        # The provider's status callback overtook the answer to our own request and moved the row
        # on (delivered, or failed over to another channel): what it said stands.
        if isinstance(outcome, SendResult) and dispatch.provider_message_id is None:
            dispatch.provider_message_id = outcome.provider_message_id
        return dispatch.status
    elif isinstance(outcome, SendResult):
        _sent(dispatch, outcome, reconciled=bool(outcome.detail.get("reconciled")))
    elif isinstance(outcome, TransientChannelError):
        _retry_later(dispatch, limits, outcome)
    elif isinstance(outcome, PermanentChannelError):
        log.warning("dispatch %s: permanent failure on %s: %s", dispatch.id, dispatch.channel.value, outcome)
        fall_back(dispatch, outcome.code, utcnow(), {"error": str(outcome)})
    else:  # an ambiguous failure, or one we do not understand: never resend blindly
        if not isinstance(outcome, AmbiguousChannelError):
            log.error("dispatch %s: unexpected failure while sending", dispatch.id, exc_info=outcome)
        _unknown(dispatch, outcome)
    _release(dispatch)
    return dispatch.status


def _text(outcome: SendResult | Exception) -> str | None:
    return None if isinstance(outcome, SendResult) else (str(outcome) or type(outcome).__name__)


def _first_try_on_channel(dispatch: Dispatch) -> datetime:
    """When this dispatch was first handed to its current channel's provider (now, if never)."""
    tries = [step.at for step in dispatch.history
             if step.status == DispatchStatus.SENDING and step.channel == dispatch.channel]
    return min(tries, default=utcnow())


def _rate_limited(dispatch: Dispatch, limits) -> bool:
    """Take provider tokens; a long wait goes back to the database as a later due time."""
    limiter = channels.limiter()
    try:
        wait = limiter.acquire(limits)
        if 0 < wait <= RATE_WAIT_INLINE:
            # A short wait is cheaper slept here than round-tripped through the relay, but never
            # inside a transaction: on SQLite that would hold the whole database's write lock.
            # The row is ours under its send lease meanwhile.
            db.session.commit()
            time.sleep(wait)
            wait = limiter.acquire(limits)
    except Exception:  # the shared limiter (Redis) is down: wait rather than exceed a provider's limit
        log.exception("dispatch %s: rate limiter unavailable", dispatch.id)
        wait = 1.0
    if wait <= 0:
        return False
    # Spread the waiters a little so they do not all come back in the same relay pass.
    delay = wait * (1 + random.random() / 2)
    dispatch.status, dispatch.due_at = DispatchStatus.SCHEDULED, utcnow() + timedelta(seconds=delay)
    _release(dispatch)
    return True


def _reconciled(dispatch: Dispatch, adapter, message: OutboundMessage, since: datetime) -> SendResult | None:
    """Ask the provider whether an earlier, ambiguous try already reached it; None means send now."""
    try:
        found = adapter.lookup(message, since)
    except LookupUnsupported:
        # This provider cannot tell. The customer gets the survey, and staff see it may be twice.
        dispatch.possible_duplicate = True
        record_status(dispatch, DispatchStatus.SENDING, "resent_unconfirmed", {"possible_duplicate": True})
        db.session.commit()
        return None
    if found is None:
        return None
    return SendResult(found.provider_message_id, found.status, {**found.detail, "reconciled": True})


def _sent(dispatch: Dispatch, result: SendResult, reconciled: bool) -> None:
    now = utcnow()
    dispatch.provider_message_id = result.provider_message_id
    dispatch.sent_at, dispatch.reconcile = now, False
    detail = {"provider_message_id": result.provider_message_id}
    if reconciled:
        detail["reconciled"] = True
    record_status(dispatch, DispatchStatus.SENT, detail=detail)
    if result.status == "delivered":
        record_status(dispatch, DispatchStatus.DELIVERED)
    plan_reminder(dispatch, now)


def _retry_later(dispatch: Dispatch, limits, error: TransientChannelError) -> None:
    config = settings()
    if dispatch.attempts >= config.max_attempts:
        fall_back(dispatch, "retries_exhausted", utcnow(), {"error": str(error)})
        return
    delay = retry_delay(dispatch.attempts, config.retry_base_seconds, config.retry_max_seconds)
    if error.retry_after:
        delay = max(delay, error.retry_after)
        for limit in limits:  # the provider asked every sender to slow down, not just this task
            try:
                channels.limiter().pause(limit.key, error.retry_after)
            except Exception:
                log.exception("could not pause rate limit %s", limit.key)
    log.info("dispatch %s: transient failure, retry in %.1fs: %s", dispatch.id, delay, error)
    schedule(dispatch, dispatch.trigger, dispatch.contact, utcnow() + timedelta(seconds=delay), "retrying",
             {"error": str(error), "retry_after": error.retry_after, "attempt": dispatch.attempts})


def _unknown(dispatch: Dispatch, error: Exception) -> None:
    dispatch.reconcile = True
    dispatch.due_at = utcnow() + timedelta(seconds=settings().reconcile_after_seconds)
    record_status(dispatch, DispatchStatus.UNKNOWN, "ambiguous", {"error": _text(error)})


def fall_back(dispatch: Dispatch, code: str, now: datetime, detail: dict) -> None:
    """Fail on this channel and move to the trigger's next usable one, if any (flushes)."""
    failed = dispatch.channel
    if code == "opted_out":
        # The provider knows the customer said stop (e.g. Twilio 21610): mirror it so nobody asks again.
        set_consent(dispatch.contact, failed, ConsentState.OPTED_OUT, "provider",
                    {"dispatch_id": dispatch.id, "code": code})
    elif code == "undeliverable":
        # The address does not exist (e.g. SMTP 550 5.1.1): asking it again only hurts the sender's reputation.
        set_consent(dispatch.contact, failed, ConsentState.UNDELIVERABLE, "provider",
                    {"dispatch_id": dispatch.id, "code": code})
    preferred = dispatch.trigger.channels if dispatch.trigger else []
    following = next_channel(preferred, failed, dispatch.contact)
    if following is None:
        status = DispatchStatus.SUPPRESSED if detail.get("at") == "claim" else DispatchStatus.FAILED
        record_status(dispatch, status, code, detail)
        return
    if detail.get("at") != "claim":
        record_status(dispatch, DispatchStatus.FAILED, code, detail)
    dispatch.channel, dispatch.attempts, dispatch.reconcile = following, 0, False
    schedule(dispatch, dispatch.trigger, dispatch.contact, now, "fallback", {"from": failed.value, "code": code})


def send_due(now: datetime | None = None, limit: int = 100, owner: str = "inline") -> int:
    """Lease and send every due dispatch here, one after another; the number handed to a channel."""
    sent = 0
    for dispatch_id in outbox.lease_due(owner, limit, settings().queue_lease_seconds, now):
        if send_one(dispatch_id, owner) in (DispatchStatus.SENT, DispatchStatus.DELIVERED):
            sent += 1
    return sent
