"""Dispatch response bodies."""
from __future__ import annotations

from marshmallow import Schema, fields

from surveyd.schemas.common import Timestamp


class StatusChangeSchema(Schema):
    """One step of a dispatch's history."""

    status = fields.Function(lambda c: c.status.value)
    reason = fields.String(allow_none=True)
    channel = fields.Function(lambda c: c.channel.value if c.channel else None)
    detail = fields.Dict(allow_none=True)
    at = Timestamp()


class DispatchSchema(Schema):
    """GET /dispatches/{id}."""

    id = fields.Integer()
    event_id = fields.Integer(allow_none=True)
    trigger_id = fields.Integer(allow_none=True)
    survey_id = fields.Integer()
    survey_version = fields.Function(lambda d: d.survey_version.number)
    contact = fields.Function(lambda d: d.contact.external_id)
    channel = fields.Function(lambda d: d.channel.value)
    purpose = fields.Function(lambda d: d.purpose.value)
    status = fields.Function(lambda d: d.status.value)
    reason = fields.String(allow_none=True)
    locale = fields.String()
    scheduled_at = Timestamp(attribute="due_at")
    expires_at = Timestamp()
    sent_at = Timestamp(allow_none=True)
    attempts = fields.Integer(metadata={"description": "Tries on the current channel."})
    reminder_of = fields.Integer(attribute="parent_id", allow_none=True,
                                 metadata={"description": "For a reminder, the invitation it follows."})
    possible_duplicate = fields.Boolean(metadata={
        "description": "Resent after a try whose outcome the provider could not confirm: the customer may have it twice."})
    provider_message_id = fields.String(allow_none=True)
    history = fields.List(fields.Nested(StatusChangeSchema))
