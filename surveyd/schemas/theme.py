"""Comment themes: what customers' comments talk about in a month, and the edits staff make to them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from surveyd.schemas.common import ID_RANGE, StrictBoolean, Timestamp

ID = ID_RANGE
MONTH = validate.Regexp(r"^[0-9]{4}-[0-9]{2}$", error="A month as YYYY-MM, e.g. 2026-10.")


class ThemeQuerySchema(Schema):
    """GET /themes."""

    month = fields.String(validate=MONTH, metadata={"description": "YYYY-MM; the current month if absent"})
    survey_id = fields.Integer(validate=ID, metadata={
        "description": "count only this survey's comments, and leave out themes it has none in"})
    examples = fields.Integer(load_default=3, validate=validate.Range(0, 10))


class ThemeBuildSchema(Schema):
    """POST /themes/build."""

    month = fields.String(validate=MONTH, metadata={"description": "YYYY-MM; the current month if absent"})
    fresh = StrictBoolean(load_default=False, metadata={
        "description": "start over: drop the month's themes, names, merges and staff overrides, then cluster anew"})


class ThemeRenameSchema(Schema):
    """PATCH /themes/{id}."""

    name = fields.String(required=True, allow_none=True, validate=validate.Length(max=120), metadata={
        "description": "the theme's name; null or blank gives back the model's words"})


class ThemeMergeSchema(Schema):
    """POST /themes/{id}/merge."""

    into = fields.Integer(required=True, strict=True, validate=ID, metadata={
        "description": "the theme of the same month that takes over this one's comments"})


class CommentThemeBodySchema(Schema):
    """PUT /answers/{id}/theme."""

    theme_id = fields.Integer(required=True, strict=True, allow_none=True, validate=ID, metadata={
        "description": "a theme of the comment's month; null says the comment has no theme"})


class PageSchema(Schema):
    """GET /themes/{id}/comments."""

    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**9))


class ThemeExampleSchema(Schema):
    """A comment the theme stands for."""

    answer_id = fields.Integer()
    response_id = fields.Integer()
    text = fields.String()
    locale = fields.String(allow_none=True)
    confidence = fields.Float(allow_none=True, metadata={"description": "the model's confidence, 0..1"})
    set_by = fields.String(metadata={"description": "model or staff"})


class SentimentMixSchema(Schema):
    """How the theme's comments are labelled."""

    negative = fields.Integer()
    neutral = fields.Integer()
    positive = fields.Integer()


class ThemeSchema(Schema):
    """A theme with its size and examples."""

    id = fields.Integer()
    period = fields.String(metadata={"description": "YYYY-MM"})
    name = fields.String(metadata={"description": "staff's name, else the model's words"})
    words = fields.List(fields.String(), metadata={"description": "the words that set its comments apart"})
    renamed = fields.Boolean()
    comments = fields.Integer()
    share = fields.Float(metadata={"description": "of the month's comments, 0..1"})
    confidence = fields.Float(allow_none=True, metadata={
        "description": "mean confidence of the comments the model put here; null when staff placed them all"})
    sentiment = fields.Nested(SentimentMixSchema)
    examples = fields.List(fields.Nested(ThemeExampleSchema))


class ThemeSummarySchema(Schema):
    """A month's themes, the largest first."""

    period = fields.String()
    comments = fields.Integer(metadata={"description": "free-text comments in the month"})
    unthemed = fields.Integer(metadata={"description": "comments in no theme"})
    built_at = Timestamp(allow_none=True)
    themes = fields.List(fields.Nested(ThemeSchema))


class ThemeBuildResultSchema(Schema):
    """What a build did."""

    period = fields.String()
    themes = fields.Integer(metadata={"description": "themes created"})
    assigned = fields.Integer(metadata={"description": "comments the model placed"})
    unthemed = fields.Integer()


class ThemeCommentSchema(Schema):
    """One comment of a theme."""

    answer_id = fields.Integer()
    response_id = fields.Integer()
    survey_id = fields.Integer()
    text = fields.String()
    locale = fields.String(allow_none=True)
    sentiment = fields.String(allow_none=True)
    confidence = fields.Float(allow_none=True)
    set_by = fields.String()
    created_at = Timestamp()


class ThemeCommentListSchema(Schema):
    """A page of a theme's comments."""

    items = fields.List(fields.Nested(ThemeCommentSchema))
    total = fields.Integer()


class CommentThemeSchema(Schema):
    """Where a comment stands."""

    answer_id = fields.Integer()
    theme_id = fields.Integer(allow_none=True)
    confidence = fields.Float(allow_none=True)
    set_by = fields.String()
