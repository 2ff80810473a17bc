"""Plain factory functions with defaults; each commits through the real services."""
from __future__ import annotations

from typing import Any

from surveyd.services.audience import contacts
from surveyd.services.design import surveys, triggers
from surveyd.services.intake import events


def survey(**overrides: Any):
    """A survey from the built-in template of its kind (NPS unless told)."""
    data = {"name": "Test survey", "kind": "nps", "locales": ["en", "tr", "fa"]}
    data.update(overrides)
    return surveys.create_survey(data)


def trigger(survey_id: int, **overrides: Any):
    """A trigger on order.delivered over the web channel."""
    data = {"touchpoint": "order.delivered", "survey_id": survey_id, "channels": ["web"], "delay_seconds": 0}
    data.update(overrides)
    return triggers.create_trigger(data)


def contact(external_id: str = "cust-1", **fields: Any):
    """A contact with an email, a phone and English as locale."""
    data = {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+447700900123", "locale": "en"}
    data.update(fields)
    return contacts.put_contact(external_id, data)[0]


def event(touchpoint: str = "order.delivered", external_id: str = "cust-1", key: str | None = None, **extra: Any):
    """Fire an event and return its stored answer as a dict."""
    import json

    from surveyd.api.events import present

    payload = {"touchpoint": touchpoint, "contact": {"external_id": external_id}, **extra}
    intake = events.record_event(payload, events.request_hash(payload), key, present)
    return json.loads(intake.body)
