"""Survey scores over time and by group, each with its n and 95% interval."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Contact, Event, Response, Survey, Touchpoint
from surveyd.services.errors import Invalid
from surveyd.services.insight.metric_math import Summary, summarize_counts

INTERVALS = ("day", "week", "month")
GROUPS = ("channel", "touchpoint", "stage", "locale")


def period_start(moment: datetime, interval: str) -> date:
    """The first day of the day, ISO week (Monday) or month holding a UTC moment."""
    day = moment.date()
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _group_key(group_by: str) -> Callable[[Any], str | None]:
    if group_by in GROUPS:
        return lambda row: getattr(row, group_by)
    if group_by == "agent":  # the agent the event named (its `agent` attribute), attributed when it came in
        return lambda row: _text((row.event_attributes or {}).get("agent"))
    prefix, _, name = group_by.partition(".")
    if prefix == "attribute" and name:
        return lambda row: _text((row.event_attributes or {}).get(name))
    if prefix == "contact" and name:
        return lambda row: _text((row.contact_attributes or {}).get(name))
    choices = ", ".join((*GROUPS, "agent", "attribute.<name>", "contact.<name>"))
    raise Invalid("unknown group_by", {"group_by": [f"Must be one of {choices}."]})


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def scored(survey: Survey, since: datetime | None, until: datetime | None, *columns: Any) -> sa.Select:
    """The answers every figure counts: the survey's responses with a score, created in [since, until), joined to
    their contact, touchpoint and event. The drill-down filters this same query, so its counts are the figures'."""
    query = (
        sa.select(*columns)
        .join(Contact, Contact.id == Response.contact_id)
        .outerjoin(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .outerjoin(Event, Event.id == Response.event_id)
        .where(Response.survey_id == survey.id, Response.score.is_not(None))
    )
    if since:
        query = query.where(Response.created_at >= since)
    if until:
        query = query.where(Response.created_at < until)
    return query


def _rows(survey: Survey, since: datetime | None, until: datetime | None) -> list[Any]:
    query = scored(
        survey, since, until,
        Response.score,
        Response.created_at,
        Response.channel,
        Response.locale,
        Touchpoint.key.label("touchpoint"),
        Touchpoint.stage,
        Event.attributes.label("event_attributes"),
        Contact.attributes.label("contact_attributes"),
    )
    rows = []
    for row in db.session.execute(query):
        mapping = dict(row._mapping)
        mapping["channel"] = row.channel.value
        mapping["stage"] = row.stage.value if row.stage else None
        rows.append(SimpleNamespace(**mapping))
    return rows


def present(summary: Summary) -> dict[str, Any]:
    """A summary as the API shows it, rounded for people."""
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    interval = summary.interval
    share_interval = summary.share_interval
    return {
        "score": rounded(summary.score),
        "n": summary.n,
        "interval": {"low": rounded(interval.low), "high": rounded(interval.high), "level": 0.95} if interval else None,
        "shares": {key: rounded(value) for key, value in summary.shares.items()},
        "share_interval": (
            {"low": rounded(share_interval.low), "high": rounded(share_interval.high), "level": 0.95}
            if share_interval else None
        ),
        "distribution": {str(point): count for point, count in summary.distribution.items()},
    }


def _summaries(kind: str, rows: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, dict[str, Any]]:
    counts: dict[Any, Counter] = defaultdict(Counter)
    for row in rows:
        counts[key(row)][row.score] += 1
    return {group: present(summarize_counts(kind, tally)) for group, tally in counts.items()}


def survey_metrics(survey: Survey, since: datetime | None, until: datetime | None,
                   interval: str | None, group_by: str | None) -> dict[str, Any]:
    """The survey's score overall, per period and per group, as PRODUCT.md defines each metric."""
    if since and until and since >= until:
        raise Invalid("empty time range", {"until": ["Must be after since."]})
    kind = survey.kind.value
    rows = _rows(survey, since, until)
    result: dict[str, Any] = {
        "survey_id": survey.id,
        "kind": kind,
        "since": since,
        "until": until,
        "overall": present(summarize_counts(kind, Counter(row.score for row in rows))),
    }
    if interval:
        periods = _summaries(kind, rows, lambda row: period_start(row.created_at, interval))
        result["interval"] = interval
        result["series"] = [{"period_start": start.isoformat(), **periods[start]} for start in sorted(periods)]
    if group_by:
        key = _group_key(group_by)
        groups = _summaries(kind, rows, key)
        result["group_by"] = group_by
        overall = result["overall"]["interval"]
        result["groups"] = [
            {"key": group, **groups[group], "differs": _apart(groups[group]["interval"], overall)}
            for group in sorted(groups, key=lambda g: (-groups[g]["n"], str(g)))
        ]
    return result


def _apart(interval: dict | None, overall: dict | None) -> bool:
    """True when a group's 95% interval and the overall one do not overlap: the group really is better or worse
    than the whole, not just by chance."""
    if not interval or not overall:
        return False
    return interval["high"] < overall["low"] or interval["low"] > overall["high"]
