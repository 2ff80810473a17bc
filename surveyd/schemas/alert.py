"""Alert bodies and queries."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from surveyd.schemas.common import ID_RANGE, PageQuerySchema, Timestamp, mask_url

STATUSES = ["open", "claimed", "contacted", "resolved"]


class AlertSchema(Schema):
    """An alert with what the customer said."""

    id = fields.Integer()
    survey_id = fields.Integer()
    response_id = fields.Integer()
    contact = fields.Function(lambda a: a.contact.external_id)
    status = fields.Function(lambda a: a.status.value)
    reasons = fields.List(fields.String())
    score = fields.Function(lambda a: a.response.score)
    comments = fields.Function(lambda a: [x.value_text for x in a.response.answers if x.value_text])
    assignee = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    root_cause = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)
    due_at = Timestamp(allow_none=True, metadata={"description": "Raised + the survey's alert.sla_minutes."})
    escalated = fields.Function(lambda a: a.escalated_at is not None)
    escalated_at = Timestamp(allow_none=True)
    created_at = Timestamp()
    updated_at = Timestamp()
    resolved_at = Timestamp(allow_none=True)


class ActivitySchema(Schema):
    """One line of an alert's activity."""

    at = Timestamp()
    actor = fields.String()
    action = fields.String()
    detail = fields.Dict()


class DeliveryAttemptSchema(Schema):
    """One try of a notification and what the provider answered."""

    at = Timestamp()
    outcome = fields.String()
    detail = fields.Dict()


class DeliverySchema(Schema):
    """One notification of the alert: what went where, and every try."""

    id = fields.Integer()
    event = fields.String()
    channel = fields.String()
    to = fields.Function(lambda n: _shown_address(n))
    status = fields.Function(lambda n: n.status.value)
    attempts = fields.Integer()
    possible_duplicate = fields.Boolean()
    last_error = fields.String(allow_none=True)
    created_at = Timestamp()
    sent_at = Timestamp(allow_none=True)
    log = fields.List(fields.Nested(DeliveryAttemptSchema))


def _shown_address(notification) -> str:
    """The target's address as staff may see it: a Slack URL is a secret, so only its host shows."""
    target = notification.target
    if notification.channel == "email":
        return target.get("to", "")
    if notification.channel == "telegram":
        return str(target.get("chat_id", ""))
    return mask_url(target.get("url", ""))


class AlertDetailSchema(AlertSchema):
    """GET /alerts/{id}: the alert with its activity and the delivery log of its notifications."""

    activity = fields.List(fields.Nested(ActivitySchema))
    deliveries = fields.List(fields.Nested(DeliverySchema), attribute="notifications")


class AlertQuerySchema(PageQuerySchema):
    """GET /alerts filters."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    survey_id = fields.Integer(validate=ID_RANGE)


class AlertPageSchema(Schema):
    """A page of alerts, newest first."""

    items = fields.List(fields.Nested(AlertSchema))
    next_cursor = fields.Integer(allow_none=True)


class AlertPatchSchema(Schema):
    """PATCH /alerts/{id}."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    assignee = fields.String(allow_none=True, validate=validate.Length(1, 254))
    note = fields.String(allow_none=True, validate=validate.Length(max=10000))
    root_cause = fields.String(allow_none=True, validate=validate.Length(1, 64), metadata={
        "description": "One of SURVEYD_ROOT_CAUSES (default: delivery, product_quality, wrong_item, staff, billing, "
                       "website_app, communication, policy, other)."})
    resolution = fields.String(allow_none=True, validate=validate.Length(max=10000))


class AlertMessageSchema(Schema):
    """POST /alerts/{id}/messages: the agent's words to the customer."""

    text = fields.String(required=True, validate=validate.Length(1, 1600), metadata={
        "description": "Sent as written on the channel the customer answered on (web answers: their first usable "
                       "of Telegram, SMS, email)."})


class AlertMessageQueuedSchema(Schema):
    """202: the message is queued in the alert's outbox; its delivery shows in the alert's deliveries."""

    id = fields.Integer()
    channel = fields.String()
    status = fields.Function(lambda n: n.status.value)
