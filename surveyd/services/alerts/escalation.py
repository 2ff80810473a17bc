"""Alerts past their SLA: escalated once, to the survey's escalate targets, and marked."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, utcnow
from surveyd.services.alerts import activity, notifying
from surveyd.services.alerts.raising import answered

EVERY_SECONDS = 10.0  # how often each relay looks; an escalation is at most this late


def overdue(now: datetime, limit: int) -> list[Alert]:
    """Alerts not yet resolved whose due time has passed and that were never escalated (rows locked on PostgreSQL)."""
    query = (sa.select(Alert)
             .where(Alert.escalated_at.is_(None), Alert.due_at.is_not(None), Alert.due_at <= now,
                    Alert.status != AlertStatus.RESOLVED)
             .order_by(Alert.due_at).limit(limit))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Alert)
    return list(db.session.scalars(query))


def escalate_overdue(now: datetime | None = None, limit: int = 100) -> int:
    """Escalate every overdue alert once, with its notifications, in one transaction; the number escalated."""
    now = now or utcnow()
    alerts = overdue(now, limit)
    for alert in alerts:
        alert.escalated_at = now
        activity.record(alert, activity.SYSTEM, "escalated", {"due_at": alert.due_at.isoformat()})
        response = alert.response
        rule = response.survey_version.alert
        texts = [a.value_text for a in response.answers if a.value_text]
        notifying.plan(alert, "escalated", rule.get("escalate") or [], answered(response, texts))
    db.session.commit()
    return len(alerts)
