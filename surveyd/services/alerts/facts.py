"""What an agent-facing notification says about an alert: plain data, gathered once, rendered per target."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PastAnswer:
    """One earlier answer of the same customer, for the "recent history" part of a notification."""

    at: datetime
    survey_name: str
    kind: str  # nps, csat, ces
    score: int | None
    channel: str


@dataclass(frozen=True)
class AlertFacts:
    """Everything a notification about one alert may show; no database objects, so rendering is pure."""

    alert_id: int
    url: str  # where an agent opens the alert (the console page)
    event: str  # "created" or "escalated"
    survey_name: str
    kind: str  # nps, csat, ces
    score: int | None
    scale: tuple[int, int]  # lowest and highest answer of the kind
    reasons: tuple[str, ...]  # "score", "keyword:<word>", "sentiment"
    comments: tuple[str, ...]
    customer_name: str | None
    customer_ref: str  # the contact's external id
    answered_on: str  # the channel the customer answered on: web, sms, email, telegram
    customer_locale: str
    touchpoint: str | None
    attributes: dict[str, Any]  # the event's attributes (order id, store, agent, ...)
    raised_at: datetime
    status: str  # open, claimed, contacted, resolved
    assignee: str | None
    due_at: datetime | None
    history: tuple[PastAnswer, ...] = field(default_factory=tuple)  # newest first, at most 5
    locale: str = "en"  # the language the agent reads the notification in
