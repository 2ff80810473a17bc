"""Surveys and their metrics."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.metrics import MetricsQuerySchema, MetricsSchema
from surveyd.schemas.survey import (
    SurveyCreateSchema,
    SurveyListSchema,
    SurveyPatchSchema,
    SurveySchema,
)
from surveyd.services.design import surveys
from surveyd.services.insight import metrics

blp = Blueprint("surveys", __name__, description="CSAT, NPS and CES surveys, versioned")


@blp.route("/surveys")
class Surveys(MethodView):
    """The survey collection."""

    @blp.response(200, SurveyListSchema)
    def get(self):
        """List surveys."""
        return {"items": surveys.list_surveys()}

    @blp.arguments(SurveyCreateSchema)
    @blp.response(201, SurveySchema)
    @blp.alt_response(422, schema=ErrorEnvelopeSchema)
    def post(self, data):
        """Create a survey from a built-in template or from questions."""
        return surveys.create_survey(data)


@blp.route("/surveys/<int:survey_id>")
class SurveyItem(MethodView):
    """One survey."""

    @blp.response(200, SurveySchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def get(self, survey_id: int):
        """Read a survey at its current version."""
        return surveys.get_survey(survey_id)

    @blp.arguments(SurveyPatchSchema)
    @blp.response(200, SurveySchema)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema)
    def patch(self, data, survey_id: int):
        """Change a survey; new content makes a new version."""
        return surveys.update_survey(survey_id, data)


@blp.route("/surveys/<int:survey_id>/metrics")
@blp.arguments(MetricsQuerySchema, location="query")
@blp.response(200, MetricsSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
def survey_metrics(query, survey_id: int):
    """Score, n, 95% interval and distribution, overall, per period and per group."""
    survey = surveys.get_survey(survey_id)
    return metrics.survey_metrics(
        survey, query.get("since"), query.get("until"), query.get("interval"), query.get("group_by"), query.get("tz")
    )
