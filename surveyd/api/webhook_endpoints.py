"""Webhook endpoints: where integrators receive signed events (Standard Webhooks), and what was delivered."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.webhook_endpoint import (
    WebhookDeliveryPageSchema,
    WebhookDeliveryQuerySchema,
    WebhookEndpointCreatedSchema,
    WebhookEndpointCreateSchema,
    WebhookEndpointListSchema,
    WebhookEndpointPatchSchema,
    WebhookEndpointSchema,
)
from surveyd.services.integrations import endpoints

blp = Blueprint("webhook_endpoints", __name__, description="Signed outgoing webhooks for integrators")


@blp.route("/webhook-endpoints")
class WebhookEndpointCollection(MethodView):
    """Every endpoint."""

    @blp.response(200, WebhookEndpointListSchema)
    def get(self):
        """The endpoints, oldest first, without their secrets."""
        return {"items": endpoints.list_endpoints()}

    @blp.arguments(WebhookEndpointCreateSchema)
    @blp.response(201, WebhookEndpointCreatedSchema)
    @blp.alt_response(422, schema=ErrorEnvelopeSchema)
    def post(self, data):
        """Register an endpoint; the answer holds its signing secret, shown this once."""
        return endpoints.create_endpoint(data["url"], data["events"], data.get("survey_ids"))


@blp.route("/webhook-endpoints/<int:endpoint_id>")
class WebhookEndpointItem(MethodView):
    """One endpoint."""

    @blp.response(200, WebhookEndpointSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def get(self, endpoint_id: int):
        """Read an endpoint, without its secret."""
        return endpoints.get_endpoint(endpoint_id)

    @blp.arguments(WebhookEndpointPatchSchema)
    @blp.response(200, WebhookEndpointSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def patch(self, data, endpoint_id: int):
        """Turn an endpoint back on after it was disabled, or off by hand."""
        return endpoints.set_enabled(endpoint_id, data["enabled"])

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def delete(self, endpoint_id: int):
        """Remove an endpoint and its deliveries; nothing more is sent to it."""
        endpoints.delete_endpoint(endpoint_id)


@blp.route("/webhook-endpoints/<int:endpoint_id>/deliveries")
@blp.arguments(WebhookDeliveryQuerySchema, location="query")
@blp.response(200, WebhookDeliveryPageSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
def delivery_list(query, endpoint_id: int):
    """The endpoint's deliveries newest first, each with its tries."""
    limit = query["limit"]
    items = endpoints.list_deliveries(endpoint_id, limit + 1, query.get("cursor"))
    return {"items": items[:limit], "next_cursor": items[limit - 1].id if len(items) > limit else None}
