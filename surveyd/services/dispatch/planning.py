"""Turns an event into dispatch rows, one per matching trigger, applying the trigger's rules; nothing is sent here.

Every decision not to send is a suppressed dispatch with its reason (condition, sampled_out,
throttled, opted_out, no_address, channel_unavailable); every decision to send later is a
scheduled dispatch with its reason (delayed, quiet_hours). The API shows both.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa

import survey_templates
from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Contact,
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    DispatchStatusChange,
    Event,
    SurveyVersion,
    Trigger,
)
from surveyd.services import row_writes, tokens
from surveyd.services.audience import suppressions
from surveyd.services.design.triggers import triggers_for
from surveyd.services.dispatch import channels, rules
from surveyd.services.runtime import public_url, settings

# Dispatches that count as "asked" for contact frequency: everything but what never went out.
NOT_ASKED = (DispatchStatus.SUPPRESSED, DispatchStatus.FAILED)
# Called with (dispatch, step) on every status change, in its transaction. Capabilities later in the order may not
# be imported here, so they add themselves from outside (integrations publishes dispatch.failed this way).
STATUS_LISTENERS: list[Callable[[Dispatch, DispatchStatusChange], None]] = []


def unusable_reason(channel: Channel, contact: Contact) -> str | None:
    """Why a channel cannot reach this contact now, or None when it can."""
    if channels.adapter(channel) is None:
        return "channel_unavailable"
    if contact.address(channel) is None:
        return "no_address"
    if contact.opted_out(channel):
        return "opted_out"
    if contact.undeliverable(channel):
        return "undeliverable"
    if channel != Channel.WEB and suppressions.suppressed(channel, contact.address(channel)):
        return "opted_out"  # an erased person's opt-out, kept as a hash of the address
    return None


def choose_channel(preferred: list[str], contact: Contact) -> tuple[Channel, str | None]:
    """The first usable channel in order of preference, else the first with the reason none was usable."""
    reasons = []
    for name in preferred:
        reason = unusable_reason(Channel(name), contact)
        if reason is None:
            return Channel(name), None
        reasons.append(reason)
    # Opting out is the reason that matters most to staff reading why nobody was asked.
    for reason in ("opted_out", "undeliverable", "no_address", "channel_unavailable"):
        if reason in reasons:
            return Channel(preferred[0]), reason
    return Channel(preferred[0]), "no_address"


def next_channel(preferred: list[str], current: Channel, contact: Contact) -> Channel | None:
    """The next usable channel after this one for a fallback; a web link cannot be delivered later."""
    names = list(preferred)
    start = names.index(current.value) + 1 if current.value in names else len(names)
    for name in names[start:]:
        if name != Channel.WEB.value and unusable_reason(Channel(name), contact) is None:
            return Channel(name)
    return None


def record_status(dispatch: Dispatch, status: DispatchStatus, reason: str | None = None, detail: dict | None = None) -> None:
    """Move a dispatch to a status and keep the step, with its channel, in its history (flushes, never commits)."""
    step = DispatchStatusChange(status=status, reason=reason, channel=dispatch.channel, detail=detail)
    if dispatch.id is not None and "history" in sa.inspect(dispatch).unloaded:
        # A stored dispatch: the step is added by id, which spares loading its whole history. A dispatch with no
        # other change pending gets its status with one UPDATE and the step with one INSERT (services/row_writes.py;
        # inside row_writes.together(), a send batch's rows, both are queued for one statement each), so the answer
        # path owes no flush. One that owes a flush anyway gets the step in that flush.
        step.dispatch_id = dispatch.id
        if row_writes.update(dispatch, status=status, reason=reason):
            row_writes.add(step)
        else:
            db.session.add(step)
    else:
        dispatch.status, dispatch.reason = status, reason
        dispatch.history.append(step)
    for listener in STATUS_LISTENERS:
        listener(dispatch, step)


_REMINDERS = sa.select(Dispatch).where(Dispatch.parent_id == sa.bindparam("invitation_id"))  # built once: every answer


def settle_reminders(invitation: Dispatch) -> None:
    """An answer cancels a reminder still to come and marks one already sent as answered (flushes)."""
    for reminder in db.session.scalars(_REMINDERS, {"invitation_id": invitation.id}):
        if reminder.status in (DispatchStatus.SCHEDULED, DispatchStatus.QUEUED, DispatchStatus.UNKNOWN):
            record_status(reminder, DispatchStatus.SUPPRESSED, "answered")
        elif reminder.status in (DispatchStatus.SENT, DispatchStatus.DELIVERED):
            record_status(reminder, DispatchStatus.ANSWERED)


def contact_timezone(contact: Contact) -> str:
    """The contact's own time zone, else the configured default."""
    zone = contact.timezone
    return zone if zone and rules.valid_timezone(zone) else settings().default_timezone


def quiet_hours_release(trigger: Trigger | None, contact: Contact, at: datetime) -> datetime | None:
    """When a send due at `at` may go out if that falls in the trigger's quiet hours; None when it is not quiet."""
    if trigger is None or not trigger.quiet_hours:
        return None
    return rules.quiet_hours_end(at, trigger.quiet_hours, contact_timezone(contact))


def contact_fields(contact: Contact) -> dict:
    """What `contact.<name>` conditions read: the attributes, then the contact's own fields."""
    fields = dict(contact.attributes or {})
    for name in ("name", "email", "phone", "telegram_chat_id", "locale", "timezone", "external_id"):
        fields.setdefault(name, getattr(contact, name))
    return fields


def last_asked(contact: Contact, since: datetime) -> Dispatch | None:
    """The newest invitation to this contact, on any survey and channel, due since then (or still to come)."""
    return db.session.scalar(
        sa.select(Dispatch)
        .where(
            Dispatch.contact_id == contact.id,
            Dispatch.purpose == DispatchPurpose.INVITATION,
            Dispatch.status.not_in(NOT_ASKED),
            Dispatch.due_at >= since,
        )
        .order_by(Dispatch.due_at.desc())
        .limit(1)
    )


def _suppression(trigger: Trigger, attributes: dict, event_id: int | None, contact: Contact, now: datetime,
                 asked: Callable[[Contact, datetime], Dispatch | None] = last_asked) -> tuple[str, dict] | None:
    """The first rule that says not to ask, with its detail. Without an event id (the "what would happen" check)
    sampling cannot be known, so the event counts as sampled in unless the rate is 0."""
    failed = rules.failed_condition(trigger.conditions or [], attributes or {}, contact_fields(contact))
    if failed is not None:
        return "condition", {"condition": failed}
    sampled = (rules.sampled_in(trigger.sample_rate, f"{trigger.id}:{event_id}") if event_id is not None
               else trigger.sample_rate > 0)
    if not sampled:
        return "sampled_out", {"sample_rate": trigger.sample_rate}
    days = trigger.throttle_days if trigger.throttle_days is not None else settings().throttle_days
    if days > 0:
        previous = asked(contact, now - timedelta(days=days))
        if previous is not None:
            return "throttled", {"throttle_days": days, "previous_dispatch_id": previous.id}
    return None


@dataclass(frozen=True)
class Decision:
    """What one trigger decides for one event before any row exists: a channel and a time, or why not."""

    channel: Channel
    status: DispatchStatus  # suppressed, scheduled, or sent (a web link goes out in the API answer)
    reason: str | None  # why not (suppressed), or why later: delayed, quiet_hours
    detail: dict | None
    due_at: datetime  # after the delay and any quiet hours
    expires_at: datetime
    locale: str


def decide(trigger: Trigger, version: SurveyVersion, attributes: dict, occurred_at: datetime, event_id: int | None,
           contact: Contact, now: datetime,
           asked: Callable[[Contact, datetime], Dispatch | None] = last_asked) -> Decision:
    """The decision plan_one stores; the "what would happen" check only shows it. Reads, never adds or flushes."""
    channel, reason = choose_channel(trigger.channels, contact)
    due_at = max(now, occurred_at + timedelta(seconds=trigger.delay_seconds))
    held = quiet_hours_release(trigger, contact, due_at) if channel != Channel.WEB else None
    due_at = held or due_at
    # A send held through quiet hours keeps its whole answering time once it goes out.
    expires_at = due_at + timedelta(seconds=trigger.expire_after_seconds or settings().token_ttl_seconds)
    locale = survey_templates.resolve_locale(contact.locale, version.locales)
    suppression = _suppression(trigger, attributes, event_id, contact, now, asked)
    if suppression is None and reason is not None:
        suppression = (reason, {"channels": list(trigger.channels)})
    if suppression:
        status, reason, detail = DispatchStatus.SUPPRESSED, *suppression
    elif channel == Channel.WEB:
        status, reason, detail = DispatchStatus.SENT, None, None
    elif held:
        status, reason, detail = DispatchStatus.SCHEDULED, "quiet_hours", _quiet_detail(trigger, contact)
    else:
        status, reason, detail = DispatchStatus.SCHEDULED, "delayed" if due_at > now else None, None
    return Decision(channel, status, reason, detail, due_at, expires_at, locale)


def plan_one(trigger: Trigger, version: SurveyVersion, event: Event, contact: Contact, now: datetime) -> list[Dispatch]:
    """The dispatch one trigger asks for after this event, on the survey's current version, and its reminder when the
    invitation goes out at once; built with their status steps, not yet stored (`store` writes them)."""
    decision = decide(trigger, version, event.attributes, event.occurred_at, event.id, contact, now)
    dispatch = Dispatch(
        event_id=event.id,
        trigger_id=trigger.id,
        trigger=trigger,
        purpose=DispatchPurpose.INVITATION,
        survey_id=trigger.survey_id,
        survey_version_id=version.id,
        contact_id=contact.id,
        contact=contact,
        channel=decision.channel,
        locale=decision.locale,
        token_nonce=tokens.new_nonce(),
        due_at=decision.due_at,
        expires_at=decision.expires_at,
    )
    if decision.status != DispatchStatus.SENT:
        record_status(dispatch, decision.status, decision.reason, decision.detail)
        return [dispatch]
    # The link travels in the API answer itself, so it is sent the moment it exists.
    record_status(dispatch, DispatchStatus.SCHEDULED)
    record_status(dispatch, DispatchStatus.SENT, detail={"via": "api_response"})
    dispatch.sent_at = now
    reminder = new_reminder(dispatch, now)
    return [dispatch, reminder] if reminder else [dispatch]


def store(dispatches: list[Dispatch]) -> None:
    """Write planned dispatches, parents first, and then all their status steps: one INSERT each and one for the
    steps, without the unit of work (services/row_writes.py). They get their ids and stay out of the session."""
    for dispatch in dispatches:
        if dispatch.parent is not None:
            dispatch.parent_id = dispatch.parent.id
        row_writes.insert(dispatch)
        for step in dispatch.history:
            step.dispatch_id = dispatch.id
    row_writes.insert_all([step for dispatch in dispatches for step in dispatch.history])


def _quiet_detail(trigger: Trigger, contact: Contact) -> dict:
    return {"timezone": contact_timezone(contact), "quiet_hours": trigger.quiet_hours}


def schedule(dispatch: Dispatch, trigger: Trigger | None, contact: Contact, due_at: datetime,
             reason: str | None = None, detail: dict | None = None) -> None:
    """Schedule a dispatch for due_at, held to the end of the contact's quiet hours when due inside them."""
    release = quiet_hours_release(trigger, contact, due_at)
    if release is not None:
        due_at, reason, detail = release, "quiet_hours", {**(detail or {}), **_quiet_detail(trigger, contact)}
    dispatch.due_at = due_at
    record_status(dispatch, DispatchStatus.SCHEDULED, reason, detail)


def plan_dispatches(event: Event, contact: Contact, now: datetime) -> list[Dispatch]:
    """One dispatch per enabled trigger of the event's touchpoint, stored (never commits); the invitations, in
    trigger order."""
    # The caller holds the contact's row lock (contacts.apply_contact), so the frequency rule below
    # cannot race another event for the same contact.
    planned = []
    for trigger, version in triggers_for(event.touchpoint_id):
        dispatches = plan_one(trigger, version, event, contact, now)
        store(dispatches)  # before the next trigger: its frequency rule sees these
        planned.append(dispatches[0])
    return planned


def plan_reminder(invitation: Dispatch, now: datetime) -> None:
    """The one reminder a trigger asks for, due after_seconds after the invitation went out (added to the session)."""
    reminder = new_reminder(invitation, now)
    if reminder is not None:
        db.session.add(reminder)


def new_reminder(invitation: Dispatch, now: datetime) -> Dispatch | None:
    """That reminder with its first status step, built but not stored; None when the trigger asks for none, one
    exists already, or it would come after the invitation expires."""
    trigger = invitation.trigger
    if invitation.purpose != DispatchPurpose.INVITATION or trigger is None or not trigger.reminder:
        return None
    exists = invitation.id is not None and db.session.scalar(
        sa.select(Dispatch.id).where(Dispatch.parent_id == invitation.id).limit(1))
    due_at = now + timedelta(seconds=trigger.reminder["after_seconds"])
    if exists or due_at >= invitation.expires_at:
        return None
    channel = Channel(trigger.reminder.get("channel") or invitation.channel.value)
    reminder = Dispatch(
        event_id=invitation.event_id, trigger_id=trigger.id, survey_id=invitation.survey_id,
        survey_version_id=invitation.survey_version_id, contact_id=invitation.contact_id,
        channel=channel, purpose=DispatchPurpose.REMINDER, locale=invitation.locale,
        token_nonce=tokens.new_nonce(), due_at=due_at, expires_at=invitation.expires_at,
        parent=invitation, trigger=trigger, contact=invitation.contact,
    )
    reason = "channel_unavailable" if channel == Channel.WEB else unusable_reason(channel, invitation.contact)
    if reason:
        record_status(reminder, DispatchStatus.SUPPRESSED, reason)
    else:
        schedule(reminder, trigger, invitation.contact, due_at, "reminder")
    return reminder


def survey_link(dispatch: Dispatch) -> str:
    """The signed web link of a dispatch; a reminder links to the invitation it follows."""
    nonce = dispatch.parent.token_nonce if dispatch.parent_id else dispatch.token_nonce
    return f"{public_url()}/s/{tokens.sign(nonce, settings().secret_key)}"
