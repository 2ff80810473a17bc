"""Alerts for support agents."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from surveyd.schemas.alert import (
    AlertDetailSchema,
    AlertMessageQueuedSchema,
    AlertMessageSchema,
    AlertPageSchema,
    AlertPatchSchema,
    AlertQuerySchema,
)
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.services.alerts import handling, replies

blp = Blueprint("alerts", __name__, description="Negative answers that need a person")


@blp.route("/alerts")
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertPageSchema)
def alert_list(query):
    """Alerts newest first, by status and survey."""
    limit = query["limit"]
    items = handling.list_alerts(query.get("status"), query.get("survey_id"), limit + 1, query.get("cursor"))
    return {"items": items[:limit], "next_cursor": items[limit - 1].id if len(items) > limit else None}


@blp.route("/alerts/<int:alert_id>")
class AlertItem(MethodView):
    """One alert."""

    @blp.response(200, AlertDetailSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def get(self, alert_id: int):
        """Read an alert."""
        return handling.get_alert(alert_id)

    @blp.arguments(AlertPatchSchema)
    @blp.response(200, AlertDetailSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def patch(self, data, alert_id: int):
        """Claim, mark contacted, resolve or reopen; set assignee, note, root cause and resolution."""
        return handling.update_alert(alert_id, data, actor=f"api_key:{g.api_key_id}")


@blp.route("/alerts/<int:alert_id>/messages", methods=["POST"])
@blp.arguments(AlertMessageSchema)
@blp.response(202, AlertMessageQueuedSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema)
def alert_message(data, alert_id: int):
    """Answer the customer on their channel; 409 when they opted out of it. Their replies join the activity."""
    return replies.send_reply(alert_id, data["text"], actor=f"api_key:{g.api_key_id}")
