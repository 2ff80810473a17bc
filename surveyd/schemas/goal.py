"""Goal body and goal with its progress."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from surveyd.schemas.common import ID_RANGE, TOUCHPOINT_KEY, Timestamp
from surveyd.schemas.metrics import RangeSchema


class GoalCreateSchema(Schema):
    """POST /goals: reach `target` on a survey (at one touchpoint, if given) by a day."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    survey_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    target = fields.Float(required=True, validate=validate.Range(-100, 100), metadata={
        "description": "NPS -100..100, CSAT 0..100 (percent satisfied), CES on its answer scale (1..7)"})
    by = fields.Date(required=True, metadata={"description": "The deadline (a day in SURVEYD_DEFAULT_TIMEZONE, counted); not in the past."})
    since = fields.Date(metadata={"description": "The first day counted (in SURVEYD_DEFAULT_TIMEZONE); the day the goal is made if absent."})
    touchpoint = fields.String(allow_none=True, validate=TOUCHPOINT_KEY, metadata={
        "description": "Count only answers at this touchpoint (an existing key); all the survey's answers if absent."})


class GoalProgressSchema(Schema):
    """Where a goal stands and why its verdict is what it is."""

    current = fields.Float(allow_none=True, metadata={"description": "The score over the goal's window so far."})
    n = fields.Integer()
    interval = fields.Nested(RangeSchema, allow_none=True)
    verdict = fields.String(metadata={"description": "met, on_track, at_risk or missed"})
    enough_data = fields.Boolean(metadata={"description": "At least 30 answers counted."})
    projected = fields.Float(allow_none=True, metadata={
        "description": "The window's score at the deadline if answers keep coming at their rate and the weekly "
                       "score follows its trend."})
    trend_per_week = fields.Float(allow_none=True, metadata={
        "description": "Slope of the n-weighted least-squares line through the weekly scores; null before 3 weeks."})
    weeks = fields.Integer(metadata={"description": "Weeks with answers in the window."})
    as_of = fields.Date()
    counted_until = fields.Date(allow_none=True, metadata={"description": "The last day counted."})


class GoalSchema(Schema):
    """A goal with its progress."""

    id = fields.Integer()
    name = fields.String()
    survey_id = fields.Integer()
    kind = fields.String()
    touchpoint = fields.String(allow_none=True)
    target = fields.Float()
    since = fields.Date()
    by = fields.Date()
    created_at = Timestamp()
    progress = fields.Nested(GoalProgressSchema)


class GoalListSchema(Schema):
    """Every goal, the nearest deadline first."""

    items = fields.List(fields.Nested(GoalSchema))
