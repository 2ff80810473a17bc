"""What responses, failed dispatches and opt-outs tell integrators, and the listeners that publish the last two.

Dispatch and audience sit above this capability and may not import it, so their one place of change calls
listeners that `listen()` adds from outside (surveyd/__init__.py calls it while building the app). Answers and
alerts sit below and call publish directly.
"""
from __future__ import annotations

from typing import Any

from surveyd.models import (
    Consent,
    ConsentState,
    Contact,
    Dispatch,
    DispatchStatus,
    DispatchStatusChange,
    Response,
)
from surveyd.services.audience import contacts
from surveyd.services.design.scales import band
from surveyd.services.dispatch import planning
from surveyd.services.integrations.publishing import iso, publish


def response_data(response: Response) -> dict[str, Any]:
    """A response as GET /responses shows it."""
    kind = response.survey_version.survey.kind.value
    return {
        "response_id": response.id, "survey_id": response.survey_id, "survey_version": response.survey_version.number,
        "dispatch_id": response.dispatch_id, "event_id": response.event_id, "contact": response.contact.external_id,
        "channel": response.channel.value, "locale": response.locale, "score": response.score,
        "band": band(kind, response.score) if response.score is not None else None,
        "completed": response.completed,
        "answers": [{"question_id": a.question_id, "value": a.value,
                     "answered_at": iso(a.answered_at) if a.answered_at else None} for a in response.answers],
        "created_at": iso(response.created_at),
    }


def publish_response(event_type: str, response: Response) -> None:
    """response.created or response.completed, in the answer's transaction (flushes)."""
    publish(event_type, lambda: response_data(response), response.survey_id)


def dispatch_status_changed(dispatch: Dispatch, step: DispatchStatusChange) -> None:
    """Publish dispatch.failed when a dispatch has failed on its last channel (a planning status listener)."""
    if step.status != DispatchStatus.FAILED:
        return
    publish("dispatch.failed", lambda: {
        "dispatch_id": dispatch.id, "survey_id": dispatch.survey_id, "event_id": dispatch.event_id,
        "contact": dispatch.contact.external_id, "channel": step.channel.value if step.channel else None,
        "purpose": dispatch.purpose.value, "reason": step.reason, "attempts": dispatch.attempts,
        "error": (step.detail or {}).get("error"),
    }, dispatch.survey_id)


def consent_changed(contact: Contact, consent: Consent) -> None:
    """Publish contact.opted_out when a contact opts out of a channel (an audience consent listener)."""
    if consent.state != ConsentState.OPTED_OUT:
        return
    publish("contact.opted_out", lambda: {
        "contact": contact.external_id, "channel": consent.channel.value, "source": consent.source,
        "at": iso(consent.changed_at) if consent.changed_at else None,
    }, None)


def listen() -> None:
    """Have dispatch status changes and consent changes publish their events; once, however often called."""
    if dispatch_status_changed not in planning.STATUS_LISTENERS:
        planning.STATUS_LISTENERS.append(dispatch_status_changed)
    if consent_changed not in contacts.CONSENT_LISTENERS:
        contacts.CONSENT_LISTENERS.append(consent_changed)
