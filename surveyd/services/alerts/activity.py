"""The alert's activity log: who did what, when; written in the caller's transaction."""
from __future__ import annotations

from typing import Any

from surveyd.extensions import db
from surveyd.models import Alert, AlertActivity, utcnow

SYSTEM = "system"
CUSTOMER = "customer"


def record(alert: Alert, actor: str, action: str, detail: dict[str, Any] | None = None) -> AlertActivity:
    """Add one line to the alert's activity (flushes nothing; the caller's use case commits)."""
    entry = AlertActivity(alert=alert, at=utcnow(), actor=actor, action=action, detail=detail or {})
    db.session.add(entry)
    return entry
