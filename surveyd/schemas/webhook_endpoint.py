"""Webhook endpoint bodies: what an integrator registers, what it reads back, and the deliveries with their tries."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from surveyd.models import DeliveryStatus
from surveyd.schemas.common import ID_RANGE, PageQuerySchema, Timestamp
from surveyd.services.integrations.endpoints import EVENT_TYPES


def shown_url(url: str) -> str:
    """The URL as it is read back: without its query string, where tokens tend to travel (deliveries are signed)."""
    if "?" in url or "#" in url:
        return url.split("?")[0].split("#")[0] + "?…"
    return url


class WebhookEndpointCreateSchema(Schema):
    """POST /webhook-endpoints."""

    url = fields.String(required=True, validate=validate.Length(1, 2000), metadata={
        "description": "https:// and a public address (SURVEYD_OUTBOUND_ALLOW_PRIVATE=1 allows http and private "
                       "addresses); checked again against every resolved address at each delivery."})
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True,
                         validate=validate.Length(1, len(EVENT_TYPES)))
    survey_ids = fields.List(fields.Integer(strict=True, validate=ID_RANGE), validate=validate.Length(1, 100), metadata={
        "description": "Only these surveys' events; leave out for every survey. Events of no survey "
                       "(contact.opted_out) reach every endpoint subscribed to them."})


class WebhookEndpointPatchSchema(Schema):
    """PATCH /webhook-endpoints/{id}."""

    enabled = fields.Boolean(required=True, metadata={
        "description": "true turns a disabled endpoint back on (events from then on reach it; what failed while it "
                       "was off is not resent); false turns it off by hand and fails what still waits for it."})


class WebhookEndpointSchema(Schema):
    """An endpoint as listed: never its secret."""

    id = fields.Integer()
    url = fields.Function(lambda e: shown_url(e.url))
    events = fields.List(fields.String())
    survey_ids = fields.List(fields.Integer(), allow_none=True, metadata={
        "description": "null: every survey; [] for an endpoint made for a survey's webhook notify target, which "
                       "hears only what that target's `when` lets through."})
    created_at = Timestamp()
    failing_since = Timestamp(allow_none=True, metadata={
        "description": "The first failed try of the current run of failures; 24 hours of them disable the endpoint."})
    disabled_at = Timestamp(allow_none=True)
    enabled = fields.Function(lambda e: e.disabled_at is None)
    disabled_reason = fields.String(allow_none=True, metadata={"description": "gone (it answered 410), failing for "
                                                                              "24 hours, or disabled by API."})


class WebhookEndpointCreatedSchema(WebhookEndpointSchema):
    """201 to POST /webhook-endpoints: the one time the signing secret is shown."""

    url = fields.String()
    secret = fields.String(metadata={"description": "whsec_...: verify each delivery's webhook-signature with it."})


class WebhookEndpointListSchema(Schema):
    """GET /webhook-endpoints, oldest first."""

    items = fields.List(fields.Nested(WebhookEndpointSchema))


class WebhookAttemptSchema(Schema):
    """One try of a delivery."""

    at = Timestamp()
    status = fields.Integer(allow_none=True, metadata={"description": "The endpoint's HTTP status; null when no "
                                                                      "answer came (refused, timed out)."})
    error = fields.String(allow_none=True)
    elapsed_ms = fields.Integer(allow_none=True)


class WebhookDeliverySchema(Schema):
    """One event for one endpoint, and every try of it."""

    id = fields.Integer()
    webhook_id = fields.String(attribute="msg_id", metadata={"description": "The webhook-id header, the same on "
                                                                            "every try."})
    type = fields.String(attribute="event_type")
    status = fields.Function(lambda d: d.status.value)
    attempts = fields.Integer()
    created_at = Timestamp()
    next_attempt_at = fields.Function(
        lambda d: d.due_at.isoformat() if d.status == DeliveryStatus.SCHEDULED else None)
    delivered_at = Timestamp(allow_none=True)
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    attempts_log = fields.List(fields.Nested(WebhookAttemptSchema), attribute="log")


class WebhookDeliveryPageSchema(Schema):
    """A page of an endpoint's deliveries, newest first."""

    items = fields.List(fields.Nested(WebhookDeliverySchema))
    next_cursor = fields.Integer(allow_none=True)


class WebhookDeliveryQuerySchema(PageQuerySchema):
    """GET /webhook-endpoints/{id}/deliveries paging."""
