"""Reading the audit log: newest first, by time, actor or action, a page at a time."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import AuditEntry


def entries(since: datetime | None = None, until: datetime | None = None, actor: str | None = None,
            action: str | None = None, limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    """A page of entries, newest first: {"items", "next_cursor"}; `actor` matches the start ("user:" or a whole
    actor), `action` an action or its noun ("survey" matches survey.created and survey.changed)."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if actor:
        query = query.where(sa.or_(AuditEntry.actor == actor, AuditEntry.actor.startswith(actor, autoescape=True)))
    if action:
        query = query.where(sa.or_(AuditEntry.action == action,
                                   AuditEntry.action.startswith(action + ".", autoescape=True)))
    if cursor is not None:
        query = query.where(AuditEntry.id < cursor)
    found = list(db.session.scalars(query))
    more = len(found) > limit
    items = found[:limit]
    return {"items": items, "next_cursor": items[-1].id if more and items else None}
