"""Responses, newest first."""
from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint

from surveyd.downloads import export_download
from surveyd.extensions import db
from surveyd.models import Response
from surveyd.schemas.common import ErrorEnvelopeSchema
from surveyd.schemas.response import (
    ExportQuerySchema,
    ResponsePageSchema,
    ResponseQuerySchema,
)
from surveyd.services.design import surveys
from surveyd.services.insight import export

blp = Blueprint("responses", __name__, description="Answers from every channel")


@blp.route("/responses")
@blp.arguments(ResponseQuerySchema, location="query")
@blp.response(200, ResponsePageSchema)
def response_list(query):
    """Responses newest first, by survey and time; follow next_cursor for the next page."""
    limit = query["limit"]
    statement = sa.select(Response).order_by(Response.id.desc()).limit(limit + 1)
    if "survey_id" in query:
        statement = statement.where(Response.survey_id == query["survey_id"])
    if "since" in query:
        statement = statement.where(Response.created_at >= query["since"])
    if "until" in query:
        statement = statement.where(Response.created_at < query["until"])
    if "cursor" in query:
        statement = statement.where(Response.id < query["cursor"])
    items = list(db.session.scalars(statement))
    next_cursor = items[limit - 1].id if len(items) > limit else None
    return {"items": items[:limit], "next_cursor": next_cursor}


@blp.route("/responses/export")
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, description="The survey's responses, one row each, streamed: CSV (UTF-8 with BOM) or XLSX. "
                               "A text cell starting with =, +, -, @, tab or CR is prefixed with '.",
              content_type="text/csv")
@blp.alt_response(404, schema=ErrorEnvelopeSchema)
def response_export(query):
    """Every response of one survey in [since, until), oldest first, for a spreadsheet."""
    survey = surveys.get_survey(query["survey_id"])
    table = export.table(survey, query.get("since"), query.get("until"))
    return export_download(table, query["format"], f"survey-{survey.id}-responses")
