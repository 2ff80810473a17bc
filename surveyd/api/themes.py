"""Comment themes: what a month's comments talk about, with the names, merges and placements staff give them."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from surveyd.models import utcnow
from surveyd.models.base import LARGEST_ID
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.theme import (
    CommentThemeBodySchema,
    CommentThemeSchema,
    PageSchema,
    ThemeBuildResultSchema,
    ThemeBuildSchema,
    ThemeCommentListSchema,
    ThemeMergeSchema,
    ThemeQuerySchema,
    ThemeRenameSchema,
    ThemeSchema,
    ThemeSummarySchema,
)
from surveyd.services.errors import NotFound
from surveyd.services.insight import periods, themes
from surveyd.services.runtime import settings

blp = Blueprint("themes", __name__, description="What comments talk about, per month, as staff edit it")


def month(label: str | None) -> periods.Period:
    """The month a request names (YYYY-MM) in the configured zone; the current month when it names none."""
    zone = settings().default_timezone
    if not label:
        return periods.current("month", utcnow(), zone)
    return periods.parse_month(label, zone)


def _known(theme_id: int) -> int:
    if theme_id > LARGEST_ID:  # no row has such an id, and SQLite's driver cannot even bind it
        raise NotFound(f"theme {theme_id} does not exist")
    return theme_id


@blp.route("/themes")
@blp.arguments(ThemeQuerySchema, location="query")
@blp.response(200, ThemeSummarySchema)
@blp.alt_response(422, schema=ErrorEnvelopeSchema)
def theme_summary(query):
    """A month's themes, the largest first, each with its words, size, confidence, mood and example comments."""
    return themes.summary(month(query.get("month")), query.get("survey_id"), query["examples"])


@blp.route("/themes/build", methods=["POST"])
@blp.arguments(ThemeBuildSchema)
@blp.response(200, ThemeBuildResultSchema)
@blp.alt_response(422, schema=ErrorEnvelopeSchema)
def build_themes(data):
    """Find a month's themes now (the relay does it by itself when a month ends). A month that has themes only
    places its new comments; `fresh` starts over. Runs while the request waits: about 15 ms a comment."""
    period = month(data.get("month"))
    return {"period": period.label, **themes.build(period, fresh=data["fresh"])}


@blp.route("/themes/<int:theme_id>")
class ThemeItem(MethodView):
    """One theme."""

    @blp.response(200, ThemeSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def get(self, theme_id: int):
        """A theme with its size, confidence, mood and example comments."""
        return themes.describe(themes.get_theme(_known(theme_id)))

    @blp.arguments(ThemeRenameSchema)
    @blp.response(200, ThemeSchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    @blp.alt_response(422, schema=ErrorEnvelopeSchema)
    def patch(self, data, theme_id: int):
        """Name a theme; a null or blank name gives back the model's words."""
        return themes.describe(themes.rename(_known(theme_id), data["name"]))


@blp.route("/themes/<int:theme_id>/comments")
@blp.arguments(PageSchema, location="query")
@blp.response(200, ThemeCommentListSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
def theme_comments(query, theme_id: int):
    """The theme's comments, the model's most confident first."""
    return themes.comments_of(_known(theme_id), query["limit"], query["offset"])


@blp.route("/themes/<int:theme_id>/merge", methods=["POST"])
@blp.arguments(ThemeMergeSchema)
@blp.response(200, ThemeSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
@blp.alt_response(409, schema=ErrorEnvelopeSchema)
@blp.alt_response(422, schema=ErrorEnvelopeSchema)
def merge_theme(data, theme_id: int):
    """Fold this theme into another of the same month: its comments move there and it leaves the lists."""
    return themes.describe(themes.merge(_known(theme_id), data["into"]))


@blp.route("/answers/<int:answer_id>/theme", methods=["PUT"])
@blp.arguments(CommentThemeBodySchema, location="json")
@blp.response(200, CommentThemeSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
@blp.alt_response(422, schema=ErrorEnvelopeSchema)
def place_comment(data, answer_id: int):
    """Put a comment in a theme of its month, or in none: the model never moves it again."""
    if answer_id > LARGEST_ID:
        raise NotFound(f"answer {answer_id} does not exist")
    placed = themes.assign(answer_id, data["theme_id"])
    return {"answer_id": placed.answer_id, "theme_id": placed.theme_id, "confidence": placed.confidence,
            "set_by": placed.set_by}
