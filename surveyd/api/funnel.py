"""The response funnel of a survey."""
from __future__ import annotations

from flask_smorest import Blueprint

from surveyd.models.base import LARGEST_ID
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.funnel import FunnelQuerySchema, FunnelSchema
from surveyd.services.design import surveys
from surveyd.services.errors import NotFound
from surveyd.services.insight import funnel as funnels

blp = Blueprint("funnel", __name__, description="Invitations planned, suppressed, sent, delivered, opened, answered")


@blp.route("/surveys/<int:survey_id>/funnel")
@blp.arguments(FunnelQuerySchema, location="query")
@blp.response(200, FunnelSchema)
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
def survey_funnel(query, survey_id: int):
    """How many invitations created in [since, until) reached each stage, overall and per channel."""
    if survey_id > LARGEST_ID:  # no row has such an id, and the drivers cannot even bind it
        raise NotFound(f"survey {survey_id} does not exist")
    return funnels.funnel(surveys.get_survey(survey_id), query.get("since"), query.get("until"), query.get("group_by"))
