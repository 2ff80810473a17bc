"""The task's side of the outbox: claim one dispatch, send it once, and record what happened.

The claim and the "sending" step commit before the provider is called, so a slow provider holds
no lock and a crash mid-call leaves a row the relay can see (its lease lapses, it becomes unknown,
and it is reconciled). Transient failures retry with exponential backoff and jitter, in the
database; permanent failures fall back to the trigger's next channel; an ambiguous failure is
never resent before the provider has been asked whether it has the message.
"""
from __future__ import annotations

import functools
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

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
from surveyd.models import (
    Channel,
    ConsentState,
    Contact,
    Dispatch,
    DispatchStatus,
    utcnow,
)
from surveyd.services import row_writes
from surveyd.services.audience import suppressions
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
# Dispatches one task claims together: the claim's and the outcomes' transactions (about 4 ms of SQLAlchemy and
# SQLite here, bench/README.md) are paid once for all of them. They go out one after another, so a batch also bounds
# how long its last one waits behind the others, and its lease grows by a send timeout for each. The relay cuts
# smaller batches while there are fewer due rows than threads x SEND_BATCH, so only a backlog fills them.
SEND_BATCH = 16


def retry_delay(attempt: int, base: float, cap: float, rng=random.random) -> float:
    """Exponential backoff with equal jitter: half the step for sure, the other half at random."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step / 2 + rng() * step / 2


# The send path's statements are built once: building one (and its cache key) costs more than running it.
_CLAIM = (
    sa.update(Dispatch)
    .where(Dispatch.id.in_(sa.bindparam("ids", expanding=True)), Dispatch.status == DispatchStatus.QUEUED)
    .values(status=DispatchStatus.SENDING, lease_owner=sa.bindparam("owner"), updated_at=sa.bindparam("now"),
            lease_expires_at=sa.bindparam("expires"))
    .returning(Dispatch.id)
    .execution_options(synchronize_session=False)
)


def _claim(dispatch_ids: Sequence[int], owner: str | None, now: datetime) -> list[Dispatch]:
    """Take these queued dispatches for this task under a send lease, loaded (not yet committed); the ones
    another task has are left out. The lease covers the last of them: each may take a whole send timeout."""
    config = settings()
    lease = config.send_lease_seconds + (len(dispatch_ids) - 1) * config.send_timeout_seconds
    claimed = list(db.session.scalars(_CLAIM, {
        "ids": list(dispatch_ids), "owner": owner, "now": now, "expires": now + timedelta(seconds=lease)}))
    if not claimed:
        db.session.rollback()
        return []
    # The claim changed these rows behind the session's back: a copy the session holds already is read again. Nothing
    # else can be stale in this transaction, so the load need not re-read every row's trigger, survey and version.
    for dispatch_id in claimed:
        if (held := db.session.identity_map.get(sa.inspect(Dispatch).identity_key_from_primary_key((dispatch_id,)))):
            db.session.expire(held)
    loaded = {dispatch.id: dispatch for dispatch in _load(claimed, refresh=False)}
    # The hold checks ask whether each address is suppressed: one query for the batch instead of one each.
    suppressions.read_ahead([(dispatch.channel, dispatch.contact.address(dispatch.channel))
                             for dispatch in loaded.values() if dispatch.channel != Channel.WEB])
    return [loaded[dispatch_id] for dispatch_id in dispatch_ids if dispatch_id in loaded]  # in the order asked


# What a send reads, in the same query: the contact with its consents (the opt-out check), the trigger (quiet hours,
# fallbacks), the survey and its version (the message).
SEND_READS = ((Dispatch.contact, Contact.consents), (Dispatch.trigger,), (Dispatch.survey_version,), (Dispatch.survey,))
OUTCOME_READS = ((Dispatch.trigger,),)  # a sent invitation plans its reminder


def _load(dispatch_ids: Sequence[int], lock: bool = False, related=SEND_READS, refresh: bool = True) -> list[Dispatch]:
    """Dispatches with what a send reads (`related`: paths of relationships), in one query (locked on PostgreSQL
    when asked; with `refresh`, read again even where the session holds them loaded); anything else they touch
    loads when touched."""
    query = _load_query(related, lock and db.engine.dialect.name == "postgresql", refresh)
    return list(db.session.scalars(query, {"ids": list(dispatch_ids)}).unique())


@functools.cache
def _load_query(related: tuple, lock: bool, refresh: bool) -> sa.Select:
    options = []
    for first, *rest in related:
        option = orm.joinedload(first)
        for relation in rest:
            option = option.joinedload(relation)
        options.append(option)
    query = (
        sa.select(Dispatch).where(Dispatch.id.in_(sa.bindparam("ids", expanding=True))).order_by(Dispatch.id)
        .options(*options).execution_options(populate_existing=refresh)
    )
    return query.with_for_update(of=Dispatch) if lock else query


def _release(dispatch: Dispatch) -> None:
    row_writes.update(dispatch, lease_owner=None, lease_expires_at=None)


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


@dataclass
class _Send:
    """A claimed dispatch on its way to the provider."""

    dispatch: Dispatch
    adapter: object
    message: OutboundMessage
    since: datetime | None  # when asking the provider first: an earlier try was ambiguous
    outcome: SendResult | Exception | None = None


def send_one(dispatch_id: int, owner: str | None = None) -> DispatchStatus | None:
    """Claim, render and send one queued dispatch; None when another task has it."""
    return send_batch([dispatch_id], owner).get(dispatch_id)


def send_batch(dispatch_ids: Sequence[int], owner: str | None = None) -> dict[int, DispatchStatus]:
    """Claim, render and send these queued dispatches one after another: one transaction claims them all and
    commits their `sending` steps before any provider is called, one records what the providers said. Each one's
    status afterwards; the ones another task has are left out."""
    now = utcnow()
    statuses: dict[int, DispatchStatus] = {}
    sends: list[_Send] = []
    with row_writes.together():  # the batch's status changes and steps: one UPDATE and one INSERT for all
        for dispatch in _claim(dispatch_ids, owner, now):
            if _held(dispatch, now):
                statuses[dispatch.id] = dispatch.status
                continue
            adapter = channels.adapter(dispatch.channel)
            message = compose(dispatch)
            if _rate_limited(dispatch, adapter.rate_limits(message)):
                statuses[dispatch.id] = dispatch.status
                continue
            row_writes.update(dispatch, attempts=dispatch.attempts + 1)
            since = _first_try_on_channel(dispatch) - LOOKUP_MARGIN if dispatch.reconcile else None
            record_status(dispatch, DispatchStatus.SENDING, detail={"attempt": dispatch.attempts, "owner": owner})
            sends.append(_Send(dispatch, adapter, message, since))
    ids = {send.dispatch.id: send for send in sends}  # read before the commit expires the rows
    # Release the transaction before talking to a provider: a slow provider must not hold a lock.
    db.session.commit()
    for send in sends:
        try:
            send.outcome = _reconciled(send.dispatch, send.adapter, send.message, send.since) if send.since else None
            if send.outcome is None:
                send.outcome = send.adapter.send(send.message)
        except Exception as error:  # every failure is recorded below; none escapes to the task runner
            send.outcome = error
    if ids:
        statuses.update(_record_outcomes(ids))
    return statuses


def _record_outcomes(sends: dict[int, _Send]) -> dict[int, DispatchStatus]:
    """Record what the providers said, in one transaction; if that fails, each on its own, so one row's trouble
    costs the others nothing (a row whose outcome cannot be stored lapses to unknown and is reconciled)."""
    try:
        # The rows as they are now (the customer may have answered meanwhile), with their triggers (a sent
        # invitation plans its reminder); a contact loads only when a failure needs it to choose the next channel.
        with row_writes.together():
            recorded = {dispatch.id: _record_outcome(dispatch, sends[dispatch.id])
                        for dispatch in _load(list(sends), lock=True, related=OUTCOME_READS)}
        db.session.commit()
        return recorded
    except Exception:
        if len(sends) == 1:
            raise
        log.exception("recording %d send outcomes together failed: recording each on its own", len(sends))
        db.session.rollback()
    recorded = {}
    for dispatch_id, send in sends.items():
        try:
            (dispatch,) = _load([dispatch_id], lock=True, related=OUTCOME_READS)
            recorded[dispatch_id] = _record_outcome(dispatch, send)
            db.session.commit()
        except Exception:
            log.exception("dispatch %s: could not record the send's outcome", dispatch_id)
            db.session.rollback()
    return recorded


def _record_outcome(dispatch: Dispatch, send: _Send) -> DispatchStatus:
    """Record what the provider said on this row as it is now (the customer may have answered meanwhile)."""
    outcome, limits = send.outcome, send.adapter.rate_limits(send.message)
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
    row_writes.update(dispatch, provider_message_id=result.provider_message_id, sent_at=now, reconcile=False)
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
    """Lease and send every due dispatch here, a batch at a time; the number handed to a channel."""
    leased = outbox.lease_due(owner, limit, settings().queue_lease_seconds, now)
    sent = 0
    for first in range(0, len(leased), SEND_BATCH):
        statuses = send_batch(leased[first:first + SEND_BATCH], owner)
        sent += sum(status in (DispatchStatus.SENT, DispatchStatus.DELIVERED) for status in statuses.values())
    return sent
