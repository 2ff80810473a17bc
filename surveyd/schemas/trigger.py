"""Trigger request and response bodies."""
from __future__ import annotations

import math

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from surveyd.schemas.common import CHANNELS, ID_RANGE, TOUCHPOINT_KEY, Timestamp

# Integers in JSON bodies are strict: 1.5 or "30" is refused rather than silently read as 1 or 30.
HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="A time as HH:MM, 00:00 to 23:59.")
OPERATORS = ["equals", "not_equals", "in", "not_in", "exists", "not_exists", "gt", "gte", "lt", "lte"]


class QuietHoursSchema(Schema):
    """A daily window, in the contact's time zone, when nothing is sent."""

    start = fields.String(required=True, validate=HHMM)
    end = fields.String(required=True, validate=HHMM)


class ReminderSchema(Schema):
    """One reminder if there is no answer after a while, optionally on another channel."""

    after_seconds = fields.Integer(strict=True, required=True, validate=validate.Range(60, 90 * 24 * 3600))
    channel = fields.String(validate=validate.OneOf(CHANNELS))


class ConditionSchema(Schema):
    """A test on an event or contact attribute, e.g. {"field": "event.open_complaint", "op": "not_equals", "value": true}."""

    field = fields.String(required=True, validate=validate.Regexp(r"^(event|contact)\.[A-Za-z0-9_.-]{1,100}$",
                          error="event.<attribute> or contact.<attribute>."))
    op = fields.String(required=True, validate=validate.OneOf(OPERATORS))
    value = fields.Raw(allow_none=True)

    @validates_schema
    def _value_fits_op(self, data, **_):
        # Refuse conditions that could never mean what the integrator wanted, rather than store them.
        op = data.get("op")
        value = data.get("value")
        if op in ("in", "not_in"):
            if not isinstance(value, list):
                raise ValidationError(f'"{op}" needs a list of values, e.g. ["gold", "silver"].', "value")
            if not 1 <= len(value) <= 100:
                raise ValidationError(f'"{op}" takes 1 to 100 values, got {len(value)}.', "value")
        elif op in ("gt", "gte", "lt", "lte"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValidationError(f'"{op}" needs a number value, e.g. 10 or 10.5 (not a string, true or false).',
                                      "value")
        elif op in ("equals", "not_equals"):
            if "value" not in data:
                raise ValidationError(f'"{op}" needs a value to compare with (null is allowed).', "value")
        # A stored condition reads back with "value": null, so null still counts as "no value" here.
        elif op in ("exists", "not_exists") and value is not None:
            raise ValidationError(f'"{op}" takes no value; leave "value" out.', "value")


class TriggerCreateSchema(Schema):
    """POST /triggers."""

    touchpoint = fields.String(required=True, validate=TOUCHPOINT_KEY)
    survey_id = fields.Integer(strict=True, required=True, validate=ID_RANGE)
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True,
                           validate=validate.Length(1, len(CHANNELS)))
    delay_seconds = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 90 * 24 * 3600))
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True)
    throttle_days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 3650))
    sample_rate = fields.Float(load_default=1.0, validate=validate.Range(0.0, 1.0))
    conditions = fields.List(fields.Nested(ConditionSchema), load_default=list, validate=validate.Length(max=50))
    reminder = fields.Nested(ReminderSchema, allow_none=True)
    expire_after_seconds = fields.Integer(strict=True, allow_none=True, validate=validate.Range(60, 365 * 24 * 3600))
    enabled = fields.Boolean(load_default=True)

    @validates("channels")
    def _no_repeats(self, value, **_):
        if len(set(value)) != len(value):
            raise ValidationError("Each channel at most once.")


class TriggerPatchSchema(TriggerCreateSchema):
    """PATCH /triggers/{id}: any subset of the fields; `enabled: false` pauses the trigger."""

    touchpoint = fields.String(validate=TOUCHPOINT_KEY)
    survey_id = fields.Integer(strict=True, validate=ID_RANGE)
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), validate=validate.Length(1, len(CHANNELS)))
    delay_seconds = fields.Integer(strict=True, validate=validate.Range(0, 90 * 24 * 3600))
    sample_rate = fields.Float(validate=validate.Range(0.0, 1.0))
    conditions = fields.List(fields.Nested(ConditionSchema), validate=validate.Length(max=50))
    enabled = fields.Boolean()


class TriggerSchema(TriggerCreateSchema):
    """A stored trigger."""

    id = fields.Integer()
    touchpoint = fields.Function(lambda t: t.touchpoint.key)
    created_at = Timestamp()


class TriggerListSchema(Schema):
    """GET /triggers."""

    items = fields.List(fields.Nested(TriggerSchema))


class TouchpointPutSchema(Schema):
    """PUT /touchpoints/{key}."""

    name = fields.String(validate=validate.Length(1, 200), allow_none=True)
    stage = fields.String(validate=validate.OneOf(["awareness", "consideration", "purchase", "post_purchase", "support"]))


class TouchpointSchema(Schema):
    """A touchpoint and its journey stage."""

    key = fields.String()
    name = fields.String(allow_none=True)
    stage = fields.Function(lambda t: t.stage.value)


class TouchpointListSchema(Schema):
    """GET /touchpoints."""

    items = fields.List(fields.Nested(TouchpointSchema))
