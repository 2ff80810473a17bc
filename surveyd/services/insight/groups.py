"""The groups a survey's answers break down by: each group's SQL expression, the join it needs, and how its value
reads as the API's key. Shared by the figures read from responses and the rollups written from them."""
from __future__ import annotations

import json
from typing import Any, Callable

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Answer, Contact, Event, Response, Touchpoint
from surveyd.services.errors import Invalid

GROUPS = ("channel", "touchpoint", "stage", "locale")
SENTIMENTS = ("negative", "neutral", "positive")  # most negative first: a response counts as its worst comment


def group_column(group_by: str) -> tuple[sa.ColumnElement, Callable[[sa.Select], sa.Select], Callable[[Any], Any]]:
    """The SQL expression a group is keyed on, the join it needs, and how its value reads as the API's key."""
    if group_by == "channel":
        return Response.channel, _as_is, lambda value: value.value
    if group_by == "locale":
        return Response.locale, _as_is, _as_is
    if group_by == "touchpoint":
        return Touchpoint.key, _touchpoint, _as_is
    if group_by == "stage":
        return Touchpoint.stage, _touchpoint, lambda value: value.value if value else None
    if group_by == "sentiment":
        worst = _worst_sentiment()
        return worst.c.rank, lambda q: q.outerjoin(worst, worst.c.response_id == Response.id), _sentiment_label
    prefix, _, name = group_by.partition(".")
    if group_by == "agent":  # the agent the event named (its `agent` attribute), attributed when it came in
        prefix, name = "attribute", "agent"
    # The JSON value itself (not ->> text), read back as Python, so the key is str(value) as the API always gave:
    # 5 -> "5", 5.0 -> "5.0", true -> "True"; values that read alike (5 and "5") merge in Python below.
    if prefix == "attribute" and name:
        column, read = _json_value(Event.attributes, name)
        return column, lambda q: q.outerjoin(Event, Event.id == Response.event_id), read
    if prefix == "contact" and name:
        column, read = _json_value(Contact.attributes, name)
        return column, lambda q: q.join(Contact, Contact.id == Response.contact_id), read
    choices = ", ".join((*GROUPS, "agent", "sentiment", "attribute.<name>", "contact.<name>"))
    raise Invalid("unknown group_by", {"group_by": [f"Must be one of {choices}."]})


def _json_value(column: Any, name: str) -> tuple[sa.ColumnElement, Callable[[Any], str | None]]:
    """One key of a JSON column as JSON (true stays true, not SQLite's 1) and how it reads as a group key."""
    if db.session.get_bind().dialect.name == "sqlite":  # `->` (SQLite 3.38+) gives the value's JSON text
        path = "$." + json.dumps(name)
        return column.op("->", return_type=sa.Text)(sa.literal(path)), lambda text: _text(
            None if text is None else json.loads(text))
    return column[name], _text


def _as_is(value: Any) -> Any:
    return value


def _touchpoint(query: sa.Select) -> sa.Select:
    return query.outerjoin(Touchpoint, Touchpoint.id == Response.touchpoint_id)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _worst_sentiment() -> sa.Subquery:
    """Per response, the rank of its most negative labelled comment (0 negative, 1 neutral, 2 positive)."""
    rank = sa.case({label: index for index, label in enumerate(SENTIMENTS)}, value=Answer.sentiment)
    return (sa.select(Answer.response_id, sa.func.min(rank).label("rank"))
            .where(Answer.sentiment.in_(SENTIMENTS)).group_by(Answer.response_id).subquery("worst_sentiment"))


def _sentiment_label(rank: int | None) -> str | None:
    return None if rank is None else SENTIMENTS[int(rank)]
