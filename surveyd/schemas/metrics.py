"""Metrics query and body."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from surveyd.config import valid_timezone
from surveyd.schemas.common import Timestamp


def _zone(name: str) -> None:
    if not valid_timezone(name):
        raise ValidationError("Must be an IANA time zone, such as Europe/Istanbul.")


class MetricsQuerySchema(Schema):
    """GET /surveys/{id}/metrics filters."""

    since = Timestamp()
    until = Timestamp()
    interval = fields.String(validate=validate.OneOf(["day", "week", "month"]))
    group_by = fields.String(
        validate=validate.Length(1, 120),
        metadata={"description": "channel, touchpoint, stage, locale, agent (the event's agent attribute), "
                                 "sentiment (of the response's most negative comment), "
                                 "attribute.<event attribute> or contact.<contact attribute>"},
    )
    tz = fields.String(
        validate=_zone,
        metadata={"description": "IANA time zone whose local days, weeks (from Monday) and months the periods "
                                 "are; default SURVEYD_DEFAULT_TIMEZONE"},
    )


class RangeSchema(Schema):
    """A 95% interval."""

    low = fields.Float()
    high = fields.Float()
    level = fields.Float()


class FigureSchema(Schema):
    """A score with its n, interval and distribution."""

    score = fields.Float(allow_none=True)
    n = fields.Integer()
    interval = fields.Nested(RangeSchema, allow_none=True)
    shares = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    share_interval = fields.Nested(RangeSchema, allow_none=True)
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer())


class PeriodFigureSchema(FigureSchema):
    """A figure for one period."""

    period_start = fields.String()


class GroupFigureSchema(FigureSchema):
    """A figure for one group."""

    key = fields.String(allow_none=True)
    differs = fields.Boolean(metadata={"description": "The group's 95% interval does not overlap the overall one."})


class MetricsSchema(Schema):
    """The survey's figures."""

    survey_id = fields.Integer()
    kind = fields.String()
    since = Timestamp(allow_none=True)
    until = Timestamp(allow_none=True)
    overall = fields.Nested(FigureSchema)
    interval = fields.String()
    tz = fields.String(metadata={"description": "The time zone the periods are local days, weeks and months of."})
    series = fields.List(fields.Nested(PeriodFigureSchema))
    group_by = fields.String()
    groups = fields.List(fields.Nested(GroupFigureSchema))


class JourneyQuerySchema(Schema):
    """GET /journey."""

    since = Timestamp()
    until = Timestamp()


class JourneyStageSchema(Schema):
    """One stage: its touchpoints, and each survey kind's figure there."""

    stage = fields.String()
    touchpoints = fields.List(fields.String())
    nps = fields.Nested(FigureSchema)
    csat = fields.Nested(FigureSchema)
    ces = fields.Nested(FigureSchema)


class JourneySchema(Schema):
    """Every stage in the configured order."""

    since = Timestamp(allow_none=True)
    until = Timestamp(allow_none=True)
    stages = fields.List(fields.Nested(JourneyStageSchema))
