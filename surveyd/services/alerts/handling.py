"""Agents working alerts: read them, list them, and move them through claim, contact and resolve."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, Response, Touchpoint, User, utcnow
from surveyd.services.alerts import activity, feed, messages, rendering
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.integrations import publishing
from surveyd.services.runtime import settings

WATCHED = ("status", "assignee", "note", "root_cause", "resolution")  # a change to any is an alert.updated
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


def list_alerts(status: str | None = None, survey_id: int | None = None, limit: int = 100, before: int | None = None,
                assignee: str | None = None, overdue: bool = False, now: datetime | None = None,
                after: int | None = None, ids: Iterable[int] | None = None,
                touchpoint: str | None = None) -> list[Alert]:
    """Alerts newest first, optionally by status, survey, touchpoint key, assignee ("none": nobody's), overdue
    (open past due), newer than an id, or among given ids."""
    query = sa.select(Alert).order_by(Alert.id.desc()).limit(limit)
    if after:
        query = query.where(Alert.id > after)
    if ids is not None:
        query = query.where(Alert.id.in_(list(ids)))
    if touchpoint:
        query = query.where(Alert.response_id.in_(
            sa.select(Response.id).join(Touchpoint, Touchpoint.id == Response.touchpoint_id)
            .where(Touchpoint.key == touchpoint)))
    if status:
        query = query.where(Alert.status == AlertStatus(status))
    if survey_id:
        query = query.where(Alert.survey_id == survey_id)
    if before:
        query = query.where(Alert.id < before)
    if assignee == "none":
        query = query.where(Alert.assignee.is_(None))
    elif assignee:
        query = query.where(sa.func.lower(Alert.assignee) == assignee.lower())
    if overdue:
        query = query.where(Alert.status != AlertStatus.RESOLVED, Alert.due_at < (now or utcnow()))
    return list(db.session.scalars(query))


def claim_alert(alert_id: int, email: str, actor: str) -> Alert:
    """The staff user takes the alert (commits); Invalid when it is resolved or held by someone else."""
    alert = get_alert(alert_id)
    if alert.status == AlertStatus.RESOLVED:
        raise Invalid("the alert is resolved", {"status": ["Reopen it first."]})
    if alert.assignee and alert.assignee.lower() != email.lower() and alert.status != AlertStatus.OPEN:
        raise Invalid(f"{alert.assignee} holds the alert", {"assignee": [alert.assignee]})
    changes: dict[str, Any] = {"assignee": email}
    if alert.status == AlertStatus.OPEN:
        changes["status"] = AlertStatus.CLAIMED.value
    return update_alert(alert_id, changes, actor)


def resolve_alert(alert_id: int, root_cause: str | None, resolution: str | None, actor: str) -> Alert:
    """Close the case with its root cause (required: the outer loop counts them) and what was done (commits)."""
    if not root_cause:
        raise Invalid("a root cause is required to resolve", {"root_cause": [", ".join(settings().root_causes)]})
    changes = {"status": AlertStatus.RESOLVED.value, "root_cause": root_cause,
               "resolution": (resolution or "").strip() or None}
    return update_alert(alert_id, changes, actor)


def _status_action(source: AlertStatus, target: AlertStatus) -> str:
    if source == AlertStatus.RESOLVED:
        return "reopened"
    return {AlertStatus.OPEN: "released", AlertStatus.CLAIMED: "claimed", AlertStatus.CONTACTED: "contacted",
            AlertStatus.RESOLVED: "resolved"}[target]


def _check_root_cause(value: str | None) -> None:
    causes = settings().root_causes
    if value is not None and value not in causes:
        raise Invalid("unknown root cause", {"root_cause": [f"One of: {', '.join(causes)}."]})


def _assign(alert: Alert, assignee: str | None) -> None:
    """Set the assignee, linking the staff user whose email it is, where there is one."""
    alert.assignee = assignee
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == assignee.lower())) if assignee else None
    alert.assignee_user_id = user.id if user else None


def update_alert(alert_id: int, changes: dict[str, Any], actor: str = activity.SYSTEM) -> Alert:
    """Change an alert's status, assignee, note, root cause or resolution, refusing moves the workflow does not
    allow; every change lands in the activity log under the actor (commits)."""
    alert = apply_changes(get_alert(alert_id), changes, actor)
    db.session.commit()
    return alert


def apply_changes(alert: Alert, changes: dict[str, Any], actor: str) -> Alert:
    """update_alert's work inside the caller's transaction (flushes only)."""
    before = {field: getattr(alert, field) for field in WATCHED}
    _check_root_cause(changes.get("root_cause"))
    if "assignee" in changes and changes["assignee"] != alert.assignee:
        _assign(alert, changes["assignee"])
        activity.record(alert, actor, "assigned", {"assignee": alert.assignee})
    if "status" in changes:
        target = AlertStatus(changes["status"])
        if target != alert.status:
            if target not in TRANSITIONS[alert.status]:
                raise Invalid(
                    f"an alert cannot go from {alert.status.value} to {target.value}",
                    {"status": [f"From {alert.status.value}: "
                                f"{', '.join(sorted(s.value for s in TRANSITIONS[alert.status]))}."]},
                )
            if target == AlertStatus.CLAIMED and not alert.assignee:
                raise Invalid("claiming needs an assignee", {"assignee": ["Required to claim an alert."]})
            activity.record(alert, actor, _status_action(alert.status, target), {"from": alert.status.value})
            alert.status = target
            alert.resolved_at = utcnow() if target == AlertStatus.RESOLVED else None
    for field in ("note", "root_cause", "resolution"):
        if field in changes and changes[field] != getattr(alert, field):
            setattr(alert, field, changes[field])
            activity.record(alert, actor, field, {field: changes[field]})
    db.session.flush()
    changed = [field for field in WATCHED if getattr(alert, field) != before[field]]
    if changed:
        publishing.publish("alert.updated", lambda: _updated_data(alert, changed), alert.survey_id)
        feed.announce(alert.id)
    return alert


def _updated_data(alert: Alert, changed: list[str]) -> dict[str, Any]:
    """What alert.updated tells integrators: the alert, what changed, and the agent's own fields."""
    return {**messages.webhook_data(rendering.gather(alert, "updated")), "changed": changed,
            "note": alert.note, "root_cause": alert.root_cause, "resolution": alert.resolution}
