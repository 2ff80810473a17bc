"""Response bodies and their query."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from surveyd.models import PENDING_SENTIMENT
from surveyd.schemas.common import ID_RANGE, PageQuerySchema, Timestamp
from surveyd.services.design.scales import band


class SentimentSchema(Schema):
    """How a free-text answer is worded, as the offline analyser read it."""

    label = fields.String(metadata={"description": "negative, neutral or positive"})
    score = fields.Float(metadata={"description": "From -1 (most negative) to 1 (most positive)."})


def _sentiment(answer) -> dict | None:
    if answer.sentiment in (None, PENDING_SENTIMENT):  # not free text, or not read yet
        return None
    return {"label": answer.sentiment, "score": round(answer.sentiment_score or 0.0, 3)}


class AnswerSchema(Schema):
    """One answered question; a free-text answer also carries its sentiment."""

    question_id = fields.String()
    value = fields.Raw()
    sentiment = fields.Function(_sentiment, metadata={"description": "null for scores and chosen options"})
    answered_at = Timestamp()


class ResponseSchema(Schema):
    """One response, partial or complete."""

    id = fields.Integer()
    survey_id = fields.Integer()
    survey_version = fields.Function(lambda r: r.survey_version.number)
    dispatch_id = fields.Integer()
    event_id = fields.Integer(allow_none=True)
    contact = fields.Function(lambda r: r.contact.external_id)
    channel = fields.Function(lambda r: r.channel.value)
    locale = fields.String()
    score = fields.Integer(allow_none=True)
    band = fields.Function(lambda r: band(r.survey_version.survey.kind.value, r.score) if r.score is not None else None)
    completed = fields.Boolean()
    answers = fields.List(fields.Nested(AnswerSchema))
    created_at = Timestamp()
    updated_at = Timestamp()


class ResponseQuerySchema(PageQuerySchema):
    """GET /responses filters."""

    survey_id = fields.Integer(validate=ID_RANGE)
    since = Timestamp()
    until = Timestamp()


class ExportQuerySchema(Schema):
    """GET /responses/export."""

    survey_id = fields.Integer(required=True, validate=ID_RANGE)
    since = Timestamp()
    until = Timestamp()
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "xlsx"]), metadata={
        "description": "csv (UTF-8 with BOM) or xlsx."})


class ResponsePageSchema(Schema):
    """A page of responses, newest first."""

    items = fields.List(fields.Nested(ResponseSchema))
    next_cursor = fields.Integer(allow_none=True)
