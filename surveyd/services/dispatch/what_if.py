"""The "what would happen" check: for a touchpoint and a contact (a stored one, or attributes typed in), the plan
the real planner would make for each of the touchpoint's triggers, without writing anything.

It calls `planning.decide`, the very function that plans real events, on the stored contact or on a contact
object that never joins the session; it only reads (triggers, the contact's consent, whom it last asked).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from surveyd.models import Contact, DispatchStatus, Trigger
from surveyd.services.audience import contacts
from surveyd.services.design import touchpoints
from surveyd.services.design.triggers import triggers_for
from surveyd.services.dispatch import planning
from surveyd.services.errors import NotFound

CONTACT_FIELDS = ("name", "email", "phone", "telegram_chat_id", "locale", "timezone")


@dataclass(frozen=True)
class _Planned:
    """A dispatch an earlier trigger of the same check would plan: it has no id, since it is never stored."""

    id: None = None


@dataclass(frozen=True)
class Outcome:
    """One trigger's plan: its decision, the contact's time zone and the due time there, and, when sampling
    depends on the event itself, the chance that the event is asked at all."""

    trigger: Trigger
    decision: planning.Decision
    timezone: str
    local_due: datetime
    chance: float | None


def typed_contact(fields: dict[str, Any], attributes: dict[str, Any]) -> Contact:
    """A contact made of typed fields, for the check only: never added to the session, so never stored."""
    return Contact(external_id="(typed)", attributes=dict(attributes),
                   **{name: fields.get(name) or None for name in CONTACT_FIELDS})


def stored_contact(external_id: str) -> Contact:
    """The stored contact, read only; NotFound when there is none."""
    return contacts.get_contact(external_id)


def check(touchpoint_key: str, contact: Contact, attributes: dict[str, Any], at: datetime) -> list[Outcome]:
    """What each active trigger of the touchpoint would plan for an event with these attributes, occurring at `at`
    and planned then; NotFound when nothing listens to the touchpoint."""
    touchpoint = touchpoints.find_touchpoint(touchpoint_key)
    found = triggers_for(touchpoint.id) if touchpoint is not None else []
    if not found:
        raise NotFound(f"no active trigger listens to {touchpoint_key!r}")
    zone = planning.contact_timezone(contact)
    outcomes: list[Outcome] = []

    def asked(who: Contact, since: datetime):
        """Whom the planner last asked: the stored dispatches, and, as the real planner flushes between triggers,
        the plans of the triggers before this one in the same event."""
        previous = planning.last_asked(who, since) if who.id is not None else None
        if previous is None and any(o.decision.status != DispatchStatus.SUPPRESSED and o.decision.due_at >= since
                                    for o in outcomes):
            return _Planned()
        return previous

    for trigger, version in found:
        decision = planning.decide(trigger, version, attributes, at, None, contact, at, asked)
        chance = trigger.sample_rate if 0 < trigger.sample_rate < 1 else None
        outcomes.append(Outcome(trigger, decision, zone, decision.due_at.astimezone(ZoneInfo(zone)), chance))
    return outcomes
