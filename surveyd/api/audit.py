"""The audit log: every change API keys and staff made, newest first."""
from __future__ import annotations

from flask_smorest import Blueprint

from surveyd.schemas.audit import AuditPageSchema, AuditQuerySchema
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.services.audit.entries import entries

blp = Blueprint("audit", __name__, description="Who changed what, when and from where")


@blp.route("/audit")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditPageSchema)
@blp.alt_response(422, schema=ErrorEnvelopeSchema)
def audit(query):
    """Changes by API keys and staff (surveys, triggers, touchpoints, alerts, users, keys, webhook endpoints, goals,
    themes), and every export and erasure of a person's data; follow next_cursor for older entries."""
    return entries(query.get("since"), query.get("until"), query.get("actor"), query.get("action"),
                   query["limit"], query.get("cursor"))
