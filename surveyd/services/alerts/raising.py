"""Raising alerts: the pure rule that decides whether an answer is negative, and the alert raised with its response."""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, Response


def alert_reasons(rule: dict[str, Any], score: int | None, texts: list[str]) -> list[str]:
    """Why an answer is negative under a survey's alert rule; empty when it is not."""
    reasons = []
    if score is not None and score <= rule["threshold"]:
        reasons.append("score")
    words = " ".join(texts).lower()
    for keyword in rule.get("keywords", []):
        if re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", words):
            reasons.append(f"keyword:{keyword}")
    return reasons


def raise_alert_if_negative(response: Response) -> Alert | None:
    """Open or extend the response's alert when its answers are negative (flushes, never commits)."""
    texts = [a.value_text for a in response.answers if a.value_text]
    reasons = alert_reasons(response.survey_version.alert, response.score, texts)
    if not reasons:
        return None
    alert = db.session.scalar(sa.select(Alert).where(Alert.response_id == response.id))
    if alert is None:
        alert = Alert(
            response_id=response.id, survey_id=response.survey_id, contact_id=response.contact_id, reasons=reasons
        )
        db.session.add(alert)
    else:
        added = [reason for reason in reasons if reason not in alert.reasons]
        if added:
            alert.reasons = [*alert.reasons, *added]
    db.session.flush()
    return alert
