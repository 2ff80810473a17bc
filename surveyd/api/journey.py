"""The journey: scores rolled up per journey stage."""
from __future__ import annotations

from flask_smorest import Blueprint

from surveyd.schemas.metrics import JourneyQuerySchema, JourneySchema
from surveyd.services.insight import journey as journeys
from surveyd.services.runtime import settings

blp = Blueprint("journey", __name__, description="Scores per journey stage")


@blp.route("/journey")
@blp.arguments(JourneyQuerySchema, location="query")
@blp.response(200, JourneySchema)
def journey(query):
    """Every survey kind's score per journey stage, stages in the configured order (SURVEYD_JOURNEY_STAGES)."""
    return journeys.journey(query.get("since"), query.get("until"), settings().journey_stages)
