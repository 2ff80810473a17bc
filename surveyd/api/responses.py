"""Responses, newest first."""
from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint

from surveyd.extensions import db
from surveyd.models import Response
from surveyd.schemas.response import ResponsePageSchema, ResponseQuerySchema

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
