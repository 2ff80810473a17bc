"""Survey scores over time and by group, each with its n and 95% interval."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Callable

import sqlalchemy as sa

from surveyd.config import valid_timezone
from surveyd.extensions import db
from surveyd.models import Answer, Contact, Event, Response, Survey, Touchpoint
from surveyd.services.errors import Invalid
from surveyd.services.insight import local_days
from surveyd.services.insight.metric_math import Summary, summarize_counts
from surveyd.services.runtime import settings

INTERVALS = ("day", "week", "month")
GROUPS = ("channel", "touchpoint", "stage", "locale")
SENTIMENTS = ("negative", "neutral", "positive")  # most negative first: a response counts as its worst comment


def period_start(moment: datetime, interval: str) -> date:
    """The first day of the day, ISO week (Monday) or month holding a UTC moment."""
    return local_period(moment.date(), interval)


def local_period(day: date, interval: str) -> date:
    """The first day of the day, ISO week (Monday) or month holding a calendar day."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _group_column(group_by: str) -> tuple[sa.ColumnElement, Callable[[sa.Select], sa.Select], Callable[[Any], Any]]:
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


def scored(survey: Survey, since: datetime | None, until: datetime | None, *columns: Any) -> sa.Select:
    """The answers every figure counts: the survey's responses with a score, created in [since, until), joined to
    their contact, touchpoint and event."""
    query = (
        sa.select(*columns)
        .join(Contact, Contact.id == Response.contact_id)
        .outerjoin(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .outerjoin(Event, Event.id == Response.event_id)
    )
    return _within(query, survey, since, until)


def counted(survey: Survey, since: datetime | None, until: datetime | None, *columns: Any) -> sa.Select:
    """The same answers as `scored`, without its joins (every response has a contact; the outer joins add no
    rows), so the database reads one index; the figures and the drill-down narrow this query."""
    return _within(sa.select(*columns).select_from(Response), survey, since, until)


def _within(query: sa.Select, survey: Survey, since: datetime | None, until: datetime | None) -> sa.Select:
    query = query.where(Response.survey_id == survey.id, Response.score.is_not(None))
    if since:
        query = query.where(Response.created_at >= since)
    if until:
        query = query.where(Response.created_at < until)
    return query


def _tallies(query: sa.Select, key: Callable[[Any], Any]) -> dict[Any, Counter]:
    """Rows of (group value, score, count) folded into a tally per API key."""
    counts: dict[Any, Counter] = defaultdict(Counter)
    for value, score, count in db.session.execute(query):
        counts[key(value)][score] += count
    return counts


def _by_group(survey: Survey, since: datetime | None, until: datetime | None, group_by: str) -> dict[Any, Counter]:
    column, join, key = _group_column(group_by)
    value = column.label("value")
    query = join(counted(survey, since, until, value, Response.score, sa.func.count()))
    return _tallies(query.group_by(value, Response.score), key)


def _by_day(survey: Survey, since: datetime | None, until: datetime | None, zone: str) -> dict[date, Counter]:
    """Tallies per local day in the zone; an open range is closed at the first and last answer."""
    if not since or not until:
        first, last = db.session.execute(counted(survey, since, until, sa.func.min(Response.created_at),
                                                 sa.func.max(Response.created_at))).one()
        if first is None:
            return {}
        since, until = since or first, until or last + timedelta(seconds=1)
    dialect = db.session.get_bind().dialect.name
    day = local_days.day_number(Response.created_at, dialect, zone, since, until).label("day")
    query = counted(survey, since, until, day, Response.score, sa.func.count()).group_by(day, Response.score)
    return _tallies(query, local_days.to_date)


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


def _summaries(kind: str, tallies: dict[Any, Counter]) -> dict[Any, dict[str, Any]]:
    return {group: present(summarize_counts(kind, tally)) for group, tally in tallies.items()}


def _total(tallies: dict[Any, Counter]) -> Counter:
    total: Counter = Counter()
    for tally in tallies.values():
        total.update(tally)
    return total


def zone_of(tz: str | None) -> str:
    """The zone periods are counted in: the one asked for, else the app's default (SURVEYD_DEFAULT_TIMEZONE)."""
    zone = tz or settings().default_timezone
    if not valid_timezone(zone):
        raise Invalid("unknown time zone", {"tz": ["Must be an IANA time zone, such as Europe/Istanbul."]})
    return zone


def survey_metrics(survey: Survey, since: datetime | None, until: datetime | None,
                   interval: str | None, group_by: str | None, tz: str | None = None) -> dict[str, Any]:
    """The survey's score overall, per period (local days, weeks from Monday, months of the zone `tz`) and per
    group, as PRODUCT.md defines each metric; the database counts, at most a few thousand rows come back."""
    if since and until and since >= until:
        raise Invalid("empty time range", {"until": ["Must be after since."]})
    if interval is not None and interval not in INTERVALS:
        raise Invalid("unknown interval", {"interval": [f"Must be one of {', '.join(INTERVALS)}."]})
    kind = survey.kind.value
    zone = zone_of(tz) if interval else None
    groups = _by_group(survey, since, until, group_by) if group_by else None
    periods: dict[date, Counter] | None = None
    if interval:
        periods = defaultdict(Counter)
        for day, tally in _by_day(survey, since, until, zone).items():
            periods[local_period(day, interval)].update(tally)
    if groups is not None:
        overall = _total(groups)
    elif periods is not None:
        overall = _total(periods)
    else:
        overall = Counter(dict(db.session.execute(
            counted(survey, since, until, Response.score, sa.func.count()).group_by(Response.score)).all()))
    result: dict[str, Any] = {
        "survey_id": survey.id,
        "kind": kind,
        "since": since,
        "until": until,
        "overall": present(summarize_counts(kind, overall)),
    }
    if interval:
        figures = _summaries(kind, periods)
        result["interval"] = interval
        result["tz"] = zone
        result["series"] = [{"period_start": start.isoformat(), **figures[start]} for start in sorted(figures)]
    if group_by:
        figures = _summaries(kind, groups)
        result["group_by"] = group_by
        whole = result["overall"]["interval"]
        result["groups"] = [
            {"key": group, **figures[group], "differs": _apart(figures[group]["interval"], whole)}
            for group in sorted(figures, key=lambda g: (-figures[g]["n"], str(g)))
        ]
    return result


def _apart(interval: dict | None, overall: dict | None) -> bool:
    """True when a group's 95% interval and the overall one do not overlap: the group really is better or worse
    than the whole, not just by chance."""
    if not interval or not overall:
        return False
    return interval["high"] < overall["low"] or interval["low"] > overall["high"]
