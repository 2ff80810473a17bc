"""Raising alerts: the pure rule that decides whether an answer is negative, and the alert raised with its response."""
from __future__ import annotations

import functools
import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, Event, Response, Touchpoint, utcnow
from surveyd.services.alerts import activity, feed, messages, notifying, rendering
from surveyd.services.alerts.targets import Answered, matching
from surveyd.services.integrations import publishing


def alert_reasons(rule: dict[str, Any], score: int | None, texts: list[str], negative_wording: bool = False) -> list[str]:
    """Why an answer is negative under a survey's alert rule; empty when it is not. `negative_wording` says
    whether a comment was labelled negative; it counts only when the rule asks (alert.sentiment)."""
    reasons = []
    if score is not None and score <= rule["threshold"]:
        reasons.append("score")
    words = " ".join(texts).lower()
    for keyword in rule.get("keywords", []):
        if re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", words):
            reasons.append(f"keyword:{keyword}")
    if negative_wording and rule.get("sentiment"):
        reasons.append("sentiment")
    return reasons


def answered(response: Response, texts: list[str]) -> Answered:
    """What the notify filters look at, from a response and its comments."""
    event = db.session.get(Event, response.event_id) if response.event_id else None
    touchpoint = db.session.get(Touchpoint, response.touchpoint_id) if response.touchpoint_id else None
    attributes = {**(response.contact.attributes or {}), **((event.attributes or {}) if event else {})}
    return Answered(score=response.score, comments=tuple(texts), channel=response.channel.value,
                    touchpoint=touchpoint.key if touchpoint else None, locale=response.locale,
                    attributes=attributes)


def raise_alert_if_negative(response: Response) -> Alert | None:
    """Open or extend the response's alert when its answers are negative, with its notifications (flushes only).

    Raising and the notification rows share the answer's transaction: an answer is never stored without the
    notifications it owes, and a redelivered answer finds them there (one row per alert, event and target).
    """
    texts = [a.value_text for a in response.answers if a.value_text]
    rule = response.survey_version.alert
    negative = any(a.sentiment == "negative" for a in response.answers)
    reasons = alert_reasons(rule, response.score, texts, negative)
    if not reasons:
        return None
    alert = db.session.scalar(sa.select(Alert).where(Alert.response_id == response.id))
    created = alert is None
    if alert is None:
        now = utcnow()
        sla = rule.get("sla_minutes")
        alert = Alert(
            response_id=response.id, survey_id=response.survey_id, contact_id=response.contact_id, reasons=reasons,
            created_at=now, due_at=now + timedelta(minutes=sla) if sla else None,
        )
        db.session.add(alert)
        db.session.flush()
        activity.record(alert, activity.SYSTEM, "raised", {"reasons": reasons, "score": response.score})
        feed.announce(alert.id)
    else:
        added = [reason for reason in reasons if reason not in alert.reasons]
        if added:
            alert.reasons = [*alert.reasons, *added]
            activity.record(alert, activity.SYSTEM, "reasons_added", {"reasons": added})
    # A comment that arrives after the score may bring a target's keyword filter into play: plan again,
    # and the targets already planned are left as they are.
    seen = answered(response, texts)
    notifying.plan(alert, "created", rule.get("notify") or [], seen)
    _tell_integrators(alert, created, rule.get("notify") or [], seen)
    db.session.flush()
    return alert


def _tell_integrators(alert: Alert, created: bool, targets: list[dict[str, Any]], seen: Answered) -> None:
    """alert.created to subscribed endpoints (when raised) and to each webhook target this answer passes."""
    # Keyed by the alert: a later comment reaches only a target that waited for its keyword, never one twice.
    data = functools.cache(lambda: messages.webhook_data(rendering.gather(alert, "created")))
    key = f"alert:{alert.id}"
    if created:
        publishing.publish("alert.created", data, alert.survey_id, key=key)
    urls = [target["url"] for target in matching(targets, seen) if target["channel"] == "webhook"]
    publishing.deliver_to_urls(urls, "alert.created", data, key=key)
