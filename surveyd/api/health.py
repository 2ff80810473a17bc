"""Pipeline health: the problems surveyd found in its own running."""
from __future__ import annotations

from datetime import timedelta

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from surveyd.models import utcnow
from surveyd.schemas.common import Timestamp
from surveyd.services.health import checks

blp = Blueprint("health", __name__, description="Problems surveyd found in its own running")
RECENT = timedelta(days=7)


class HealthIssueSchema(Schema):
    """One problem."""

    id = fields.Integer()
    kind = fields.String(metadata={"description": "dispatch_stalled, failure_rate, credentials, response_rate, "
                                                  "signatures"})
    key = fields.String(metadata={"description": "what it is about: a channel, a survey id, a webhook source"})
    summary = fields.String()
    detail = fields.Dict()
    opened_at = Timestamp()
    last_seen_at = Timestamp()
    resolved_at = Timestamp(allow_none=True)


class HealthSchema(Schema):
    """Open problems, and those resolved in the last 7 days."""

    status = fields.String(metadata={"description": "ok, or problems while any is open"})
    items = fields.List(fields.Nested(HealthIssueSchema))


@blp.route("/health")
@blp.response(200, HealthSchema)
def health():
    """Open problems first (oldest first), then those resolved in the last 7 days (newest first)."""
    issues = checks.open_issues() + [issue for issue in checks.recent_issues(utcnow() - RECENT) if issue.resolved_at]
    items = [{"id": issue.id, "kind": issue.kind, "key": issue.key, "summary": checks.describe(issue),
              "detail": issue.detail, "opened_at": issue.opened_at, "last_seen_at": issue.last_seen_at,
              "resolved_at": issue.resolved_at} for issue in issues]
    return {"status": "problems" if any(issue.resolved_at is None for issue in issues) else "ok", "items": items}
