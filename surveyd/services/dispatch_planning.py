"""Turns an event into dispatch rows, one per matching trigger; nothing is sent here."""
from __future__ import annotations

from datetime import datetime, timedelta

import survey_templates
from surveyd.extensions import db
from surveyd.models import (
    Channel, Contact, Dispatch, DispatchStatus, DispatchStatusChange, Event, Trigger,
)
from surveyd.services import channels, tokens
from surveyd.services.runtime import public_url, settings
from surveyd.services.triggers import triggers_for


def choose_channel(preferred: list[str], contact: Contact) -> tuple[Channel, str | None]:
    """The first usable channel in order of preference, else the first with the reason none was usable."""
    reasons = []
    for name in preferred:
        channel = Channel(name)
        if channels.adapter(channel) is None:
            reasons.append("channel_unavailable")
        elif contact.address(channel) is None:
            reasons.append("no_address")
        elif contact.opted_out(channel):
            reasons.append("opted_out")
        else:
            return channel, None
    # Opting out is the reason that matters most to staff reading why nobody was asked.
    for reason in ("opted_out", "no_address", "channel_unavailable"):
        if reason in reasons:
            return Channel(preferred[0]), reason
    return Channel(preferred[0]), "no_address"


def record_status(dispatch: Dispatch, status: DispatchStatus, reason: str | None = None, detail: dict | None = None) -> None:
    """Move a dispatch to a status and keep the step in its history (flushes, never commits)."""
    dispatch.status, dispatch.reason = status, reason
    dispatch.history.append(DispatchStatusChange(status=status, reason=reason, detail=detail))


def plan_one(trigger: Trigger, event: Event, contact: Contact, now: datetime) -> Dispatch:
    """The dispatch one trigger asks for after this event."""
    version = trigger.survey.latest
    channel, reason = choose_channel(trigger.channels, contact)
    due_at = max(now, event.occurred_at + timedelta(seconds=trigger.delay_seconds))
    lifetime = trigger.expire_after_seconds or settings().token_ttl_seconds
    dispatch = Dispatch(
        event_id=event.id,
        trigger_id=trigger.id,
        survey_id=trigger.survey_id,
        survey_version_id=version.id,
        contact_id=contact.id,
        channel=channel,
        locale=survey_templates.resolve_locale(contact.locale, version.locales),
        token_nonce=tokens.new_nonce(),
        due_at=due_at,
        expires_at=due_at + timedelta(seconds=lifetime),
    )
    if reason:
        record_status(dispatch, DispatchStatus.SUPPRESSED, reason)
    elif channel == Channel.WEB:
        # The link travels in the API answer itself, so it is sent the moment it exists.
        record_status(dispatch, DispatchStatus.SCHEDULED)
        record_status(dispatch, DispatchStatus.SENT, detail={"via": "api_response"})
        dispatch.sent_at = now
    else:
        record_status(dispatch, DispatchStatus.SCHEDULED)
    db.session.add(dispatch)
    return dispatch


def plan_dispatches(event: Event, contact: Contact, now: datetime) -> list[Dispatch]:
    """One dispatch per enabled trigger of the event's touchpoint (flushes, never commits)."""
    planned = [plan_one(trigger, event, contact, now) for trigger in triggers_for(event.touchpoint_id)]
    db.session.flush()
    return planned


def survey_link(dispatch: Dispatch) -> str:
    """The signed web link of a dispatch."""
    return f"{public_url()}/s/{tokens.sign(dispatch.token_nonce, settings().secret_key)}"
