"""Funnel query and body."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from surveyd.schemas.common import Timestamp


class FunnelQuerySchema(Schema):
    """GET /surveys/{id}/funnel."""

    since = Timestamp(metadata={"description": "invitations created at or after this time"})
    until = Timestamp(metadata={"description": "invitations created before this time"})
    group_by = fields.String(validate=validate.OneOf(["channel"]))

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("Must be after since.", "until")


class FunnelCountsSchema(Schema):
    """How many invitations reached each stage."""

    planned = fields.Integer()
    suppressed = fields.Integer()
    reasons = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "suppressed by reason"})
    sent = fields.Integer()
    delivered = fields.Integer(metadata={"description": "sent, and delivery reported, or opened or answered"})
    delivery_reported = fields.Integer(metadata={"description": "sent, and the provider reported delivery"})
    opened = fields.Integer()
    answered = fields.Integer()
    completed = fields.Integer()
    response_rate = fields.Float(allow_none=True, metadata={"description": "answered / sent, in percent"})
    median_seconds_to_answer = fields.Float(allow_none=True)


class FunnelGroupSchema(FunnelCountsSchema):
    """The funnel of one channel."""

    channel = fields.String()


class FunnelSchema(FunnelCountsSchema):
    """A survey's funnel in a period, overall and per group."""

    survey_id = fields.Integer()
    since = Timestamp(allow_none=True)
    until = Timestamp(allow_none=True)
    groups = fields.List(fields.Nested(FunnelGroupSchema))
