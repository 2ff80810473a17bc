"""Alert bodies and queries."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from surveyd.schemas.common import PageQuerySchema, Timestamp

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
    created_at = Timestamp()
    updated_at = Timestamp()
    resolved_at = Timestamp(allow_none=True)


class AlertQuerySchema(PageQuerySchema):
    """GET /alerts filters."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    survey_id = fields.Integer()


class AlertPageSchema(Schema):
    """A page of alerts, newest first."""

    items = fields.List(fields.Nested(AlertSchema))
    next_cursor = fields.Integer(allow_none=True)


class AlertPatchSchema(Schema):
    """PATCH /alerts/{id}."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    assignee = fields.String(allow_none=True, validate=validate.Length(1, 254))
    note = fields.String(allow_none=True, validate=validate.Length(max=10000))
