"""Event request and response bodies."""
from __future__ import annotations

from marshmallow import Schema, fields

from surveyd.schemas.common import TOUCHPOINT_KEY, Timestamp
from surveyd.schemas.contact import EventContactSchema


class EventCreateSchema(Schema):
    """POST /events."""

    touchpoint = fields.String(required=True, validate=TOUCHPOINT_KEY)
    contact = fields.Nested(EventContactSchema, required=True)
    occurred_at = Timestamp()
    attributes = fields.Dict(keys=fields.String(), load_default=dict)


class PlannedDispatchSchema(Schema):
    """A dispatch as the event answer lists it."""

    id = fields.Integer()
    survey_id = fields.Integer()
    channel = fields.String()
    status = fields.String()
    scheduled_at = Timestamp()
    url = fields.String()
    reason = fields.String()


class EventAcceptedSchema(Schema):
    """202 to POST /events; a replay returns the very same bytes."""

    id = fields.Integer()
    dispatches = fields.List(fields.Nested(PlannedDispatchSchema))
