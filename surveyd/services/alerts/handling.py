"""Agents working alerts: read them, list them, and move them through claim, contact and resolve."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, utcnow
from surveyd.services.errors import Invalid, NotFound

# Agents move forward through these; reopening is allowed so a wrongly closed alert is not lost.
TRANSITIONS = {
    AlertStatus.OPEN: {AlertStatus.CLAIMED, AlertStatus.CONTACTED, AlertStatus.RESOLVED},
    AlertStatus.CLAIMED: {AlertStatus.OPEN, AlertStatus.CONTACTED, AlertStatus.RESOLVED},
    AlertStatus.CONTACTED: {AlertStatus.CLAIMED, AlertStatus.RESOLVED},
    AlertStatus.RESOLVED: {AlertStatus.OPEN},
}


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
