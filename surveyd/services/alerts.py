"""Alerts: the pure rule that decides, raising one with its response, and agents working them."""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, Response, utcnow
from surveyd.services.errors import Invalid, NotFound

# Agents move forward through these; reopening is allowed so a wrongly closed alert is not lost.
TRANSITIONS = {
    AlertStatus.OPEN: {AlertStatus.CLAIMED, AlertStatus.CONTACTED, AlertStatus.RESOLVED},
    AlertStatus.CLAIMED: {AlertStatus.OPEN, AlertStatus.CONTACTED, AlertStatus.RESOLVED},
    AlertStatus.CONTACTED: {AlertStatus.CLAIMED, AlertStatus.RESOLVED},
    AlertStatus.RESOLVED: {AlertStatus.OPEN},
}


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


def get_alert(alert_id: int) -> Alert:
    """One alert, or NotFound."""
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    return alert


def list_alerts(status: str | None = None, survey_id: int | None = None, limit: int = 100, before: int | None = None) -> list[Alert]:
    """Alerts newest first, optionally by status and survey."""
    query = sa.select(Alert).order_by(Alert.id.desc()).limit(limit)
    if status:
        query = query.where(Alert.status == AlertStatus(status))
    if survey_id:
        query = query.where(Alert.survey_id == survey_id)
    if before:
        query = query.where(Alert.id < before)
    return list(db.session.scalars(query))


def update_alert(alert_id: int, changes: dict[str, Any]) -> Alert:
    """Change an alert's status, assignee or note, refusing moves the workflow does not allow."""
    alert = get_alert(alert_id)
    if "status" in changes:
        target = AlertStatus(changes["status"])
        if target != alert.status and target not in TRANSITIONS[alert.status]:
            raise Invalid(
                f"an alert cannot go from {alert.status.value} to {target.value}",
                {"status": [f"From {alert.status.value}: {', '.join(sorted(s.value for s in TRANSITIONS[alert.status]))}."]},
            )
        if target == AlertStatus.CLAIMED and not (changes.get("assignee") or alert.assignee):
            raise Invalid("claiming needs an assignee", {"assignee": ["Required to claim an alert."]})
        alert.status = target
        alert.resolved_at = utcnow() if target == AlertStatus.RESOLVED else None
    if "assignee" in changes:
        alert.assignee = changes["assignee"]
    if "note" in changes:
        alert.note = changes["note"]
    db.session.commit()
    return alert
