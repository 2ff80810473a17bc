"""Survey scores over time and by group, each with its n and 95% interval."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from surveyd.config import valid_timezone
from surveyd.extensions import db
from surveyd.models import Contact, Event, Response, Survey, Touchpoint
from surveyd.services.errors import Invalid
from surveyd.services.insight import local_days, rollups
from surveyd.services.insight.groups import group_column
from surveyd.services.insight.metric_math import Summary, summarize_counts
from surveyd.services.runtime import settings

INTERVALS = ("day", "week", "month")


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


def _rolled(survey: Survey, since: datetime | None, until: datetime | None, group_by: str | None,
            per_day: bool = False) -> dict[Any, Counter] | None:
    """Tallies from the score rollups keyed as the figures key them (by day, or by group), or None when the
    rollups cannot serve this one (services/insight/rollups.py)."""
    dimension = rollups.rolled_up(group_by)
    counts = None if dimension is None else rollups.tallies([survey.id], dimension, since, until, per_day)
    if counts is None:
        return None
    name: Callable[[Any], Any] = _as_is
    if group_by in ("touchpoint", "stage"):
        column = Touchpoint.key if group_by == "touchpoint" else Touchpoint.stage
        names = {str(id_): value for id_, value in db.session.execute(sa.select(Touchpoint.id, column))}
        name = (lambda value: names.get(value)) if group_by == "touchpoint" else (
            lambda value: names[value].value if value in names and names[value] else None)
    tallies: dict[Any, Counter] = defaultdict(Counter)
    for (_, day, value), tally in counts.items():
        tallies[day if per_day else name(value)].update(tally)
    return tallies


def _as_is(value: Any) -> Any:
    return value


def _by_group(survey: Survey, since: datetime | None, until: datetime | None, group_by: str) -> dict[Any, Counter]:
    rolled = _rolled(survey, since, until, group_by)
    if rolled is not None:
        return rolled
    column, join, key = group_column(group_by)
    value = column.label("value")
    query = join(counted(survey, since, until, value, Response.score, sa.func.count()))
    return _tallies(query.group_by(value, Response.score), key)


def _by_day(survey: Survey, since: datetime | None, until: datetime | None, zone: str) -> dict[date, Counter]:
    """Tallies per local day in the zone; an open range is closed at the first and last answer."""
    if zone == settings().default_timezone:
        rolled = _rolled(survey, since, until, None, per_day=True)
        if rolled is not None:
            return rolled
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


def _by_period(survey: Survey, since: datetime | None, until: datetime | None, interval: str,
               zone: str) -> dict[date, Counter]:
    """Tallies per day, week or month of the zone."""
    if zone != settings().default_timezone and interval != "day":
        split = _split_days(survey, since, until, interval, zone)
        if split is not None:
            return split
    periods: dict[date, Counter] = defaultdict(Counter)
    for day, tally in _by_day(survey, since, until, zone).items():
        periods[local_period(day, interval)].update(tally)
    return periods


MOST_SPLIT_DAYS = 120


def _split_days(survey: Survey, since: datetime | None, until: datetime | None, interval: str,
                zone: str) -> dict[date, Counter] | None:
    """Weeks or months of a zone other than the rollups' own, from the rollups' days: a rollup day wholly inside
    one period counts there; a day a period boundary cuts in two is split by counting its answers before the
    boundary from the responses (the rest is the day's tally less those). None when the rollups cannot serve."""
    home = settings().default_timezone
    days = _rolled(survey, since, until, None, per_day=True)
    if days is None:
        return None
    here = ZoneInfo(zone)

    def period(moment: datetime) -> date:
        return local_period(moment.astimezone(here).date(), interval)

    def boundary_after(moment: datetime) -> datetime:
        start = period(moment)
        following = start + timedelta(days=7) if interval == "week" else (start + timedelta(days=32)).replace(day=1)
        return local_days.local_midnight(following, zone)

    periods: dict[date, Counter] = defaultdict(Counter)
    cuts: list[tuple[date, datetime, datetime]] = []  # (day, its first instant, the boundary cutting it)
    for day, tally in days.items():
        start = local_days.local_midnight(day, home)
        end = local_days.local_midnight(day + timedelta(days=1), home)
        start, end = max(start, since) if since else start, min(end, until) if until else end
        boundary = boundary_after(start)
        if boundary < end:
            cuts.append((day, start, boundary))
        else:
            periods[period(start)].update(tally)
    if len(cuts) > MOST_SPLIT_DAYS:
        return None
    before: dict[int, Counter] = defaultdict(Counter)
    if cuts:
        parts = [counted(survey, start, boundary, sa.literal(index).label("part"), Response.score, sa.func.count())
                 .group_by(Response.score) for index, (_, start, boundary) in enumerate(cuts)]
        for index, score, count in db.session.execute(sa.union_all(*parts)):
            before[index][score] += count
    for index, (day, start, boundary) in enumerate(cuts):
        for moment, tally in ((start, before[index]), (boundary, days[day] - before[index])):
            if tally:  # a period shows only with answers, as when counted from the responses
                periods[period(moment)].update(tally)
    return periods


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
        periods = _by_period(survey, since, until, interval, zone)
    if groups is not None:
        overall = _total(groups)
    elif periods is not None:
        overall = _total(periods)
    else:
        rolled = _rolled(survey, since, until, None)
        overall = _total(rolled) if rolled is not None else Counter(dict(db.session.execute(
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
