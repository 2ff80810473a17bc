"""The audit log's query and entries."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from surveyd.schemas.common import PageQuerySchema, Timestamp


class AuditQuerySchema(PageQuerySchema):
    """GET /audit."""

    since = Timestamp(metadata={"description": "entries at or after this time"})
    until = Timestamp(metadata={"description": "entries before this time"})
    actor = fields.String(validate=validate.Length(1, 254), metadata={
        "description": "an actor (api_key:3) or its start (user:, api_key:)"})
    action = fields.String(validate=validate.Regexp(r"^[a-z_]{1,32}(\.[a-z_]{1,15})?$"), metadata={
        "description": "an action (survey.changed) or a noun (survey)"})

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("Must be after since.", "until")


class AuditEntrySchema(Schema):
    """One change: who, when, what, from where."""

    id = fields.Integer()
    at = Timestamp()
    actor = fields.String(metadata={"description": "api_key:<id> or user:<id>:<email>, or system"})
    action = fields.String(metadata={"description": "<noun>.created, .changed, .deleted; contact.exported, "
                                                    "contact.erased"})
    target_type = fields.String()
    target_id = fields.String(allow_none=True)
    detail = fields.Dict(metadata={"description": "fields: the names of the fields changed (never their values)"})
    origin = fields.String(allow_none=True, metadata={"description": "the client's address"})
    request_id = fields.String(allow_none=True, metadata={"description": "the X-Request-Id of the request"})


class AuditPageSchema(Schema):
    """A page of entries, newest first."""

    items = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.Integer(allow_none=True)
