"""The response funnel of a survey: invitations planned in a period, and how far each got. Read only.

Every member is an invitation (purpose invitation) created in [since, until); its reminder is no new member, but an
opening or answer of the reminder counts for its invitation (through `parent_id`). Each stage counts invitations
that reached it:

- planned: every invitation; suppressed: those never sent for a reason (reasons: {reason: count}).
- sent: a provider took it, or the web link went back in the API answer (sent_at is set).
- delivered: sent, and the provider reported delivery or the contact opened or answered it (proof it arrived).
  Web links and Telegram report no delivery, so theirs count only once opened or answered; delivery_reported
  counts the provider's reports alone.
- opened: the survey page was first shown while it could be answered (web link, email score link). An SMS or
  Telegram answer opens no page: such invitations are answered but not opened, so opened may be below answered.
  Email security scanners that prefetch links count as opens.
- answered: a response with a score; completed: the response is complete.

The counts come from one pass over the survey's dispatches grouped by family (an invitation and its reminder), and
the medians from a second, ranked by the database: no row of the period is read into Python.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    DispatchStatusChange,
    Response,
    Survey,
)
from surveyd.services.errors import Invalid

GROUPINGS = ("channel",)
STAGES = ("planned", "sent", "delivered", "delivery_reported", "opened", "answered", "completed")


def _flag(condition) -> sa.ColumnElement:
    return sa.func.max(sa.case((condition, 1), else_=0))


def _own(column: sa.ColumnElement) -> sa.ColumnElement:
    """The invitation's own value of a column, read off the one row of its family that has no parent."""
    return sa.func.max(sa.case((Dispatch.parent_id.is_(None), column)))


def _milliseconds_between(later: sa.ColumnElement, earlier: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """Whole milliseconds from one stored UTC instant to another: an integer, so the median of two is exact on every
    database (SQLite's julianday is good to about 50 microseconds here)."""
    if dialect == "sqlite":
        return sa.cast(sa.func.round((sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400000.0), sa.BigInteger)
    return sa.cast(sa.func.round(sa.extract("epoch", later - earlier) * 1000), sa.BigInteger)


def _families(survey: Survey, since: datetime | None, until: datetime | None) -> sa.CTE:
    """One row per invitation created in [since, until): its channel, status and reason, and how far it and its
    reminders got. One pass over the survey's dispatches grouped by family (a reminder's parent_id is its
    invitation), so no row is ever matched against another by a join the database cannot index."""
    # A reminder is made after its invitation, so since bounds the whole family; until bounds the invitation only
    # (reminders come later), in HAVING.
    bounds = [Dispatch.survey_id == survey.id] + ([Dispatch.created_at >= since] if since else [])
    family = sa.func.coalesce(Dispatch.parent_id, Dispatch.id)
    reported = sa.exists().where(DispatchStatusChange.dispatch_id == Dispatch.id,
                                 DispatchStatusChange.status == DispatchStatus.DELIVERED)
    created = _own(Dispatch.created_at)
    having = [_own(sa.case((Dispatch.purpose == DispatchPurpose.INVITATION, 1), else_=0)) == 1]
    if until:
        having.append(created < until)
    return (
        sa.select(
            _own(Dispatch.channel).label("channel"),
            _own(Dispatch.status).label("status"),
            _own(Dispatch.reason).label("reason"),
            _own(Dispatch.sent_at).label("sent_at"),
            _flag(reported).label("reported"),
            _flag(Dispatch.opened_at.is_not(None)).label("opened"),
            _flag(Response.score.is_not(None)).label("answered"),
            _flag(Response.completed.is_(True)).label("completed"),
            sa.func.min(Response.created_at).label("answered_at"),
        )
        .outerjoin(Response, Response.dispatch_id == Dispatch.id)
        .where(*bounds)
        .group_by(family)
        .having(*having)
        .cte("families")
    )


def _empty() -> dict:
    return {**{stage: 0 for stage in STAGES}, "suppressed": 0, "reasons": {}}


def _rate(counts: dict) -> float | None:
    return round(counts["answered"] / counts["sent"] * 100, 2) if counts["sent"] else None


def _medians(families: sa.CTE, dialect: str) -> dict[str | None, float]:
    """The median seconds from sending to the first answer, per channel and overall (key None): the database ranks
    the waits (whole milliseconds, an answer before its sending counting 0) and averages the one or two middle
    ones, as statistics.median would."""
    f = families.c
    waited = _milliseconds_between(f.answered_at, f.sent_at, dialect)
    waits = (sa.select(f.channel, sa.case((waited < 0, 0), else_=waited).label("ms"))
             .where(f.sent_at.is_not(None), f.answered == 1).subquery("waits"))
    ranked = sa.select(
        waits.c.channel, waits.c.ms,
        sa.func.row_number().over(partition_by=waits.c.channel, order_by=waits.c.ms).label("rank"),
        sa.func.count().over(partition_by=waits.c.channel).label("n"),
        sa.func.row_number().over(order_by=waits.c.ms).label("rank_all"),
        sa.func.count().over().label("n_all"),
    ).subquery("ranked")
    r = ranked.c

    def middle(rank, n):
        return sa.or_(rank == (n + 1) // 2, rank == (n + 2) // 2)

    per_channel = sa.select(r.channel, sa.func.avg(r.ms)).where(middle(r.rank, r.n)).group_by(r.channel)
    overall = sa.select(sa.null(), sa.func.avg(r.ms)).where(middle(r.rank_all, r.n_all))
    found: dict[str | None, float] = {}
    for channel, value in db.session.execute(sa.union_all(per_channel, overall)):
        if value is not None:
            found[None if channel is None else Channel(channel).value] = round(float(value) / 1000, 1)
    return found


def funnel(survey: Survey, since: datetime | None, until: datetime | None, group_by: str | None = None) -> dict:
    """The funnel's counts overall and, with group_by="channel", per channel of the invitation."""
    if group_by is not None and group_by not in GROUPINGS:
        raise Invalid("cannot group the funnel so", {"group_by": [f"Must be one of {', '.join(GROUPINGS)}."]})
    if since and until and since >= until:
        raise Invalid("the period is empty", {"until": ["Must be after since."]})
    families = _families(survey, since, until)
    f = families.c
    sent = f.sent_at.is_not(None)
    tally = (
        sa.select(
            f.channel, f.status, f.reason,
            sa.func.count(),
            sa.func.count().filter(sent),
            sa.func.count().filter(sent, sa.or_(f.reported == 1, f.opened == 1, f.answered == 1)),
            sa.func.count().filter(sent, f.reported == 1),
            sa.func.count().filter(f.opened == 1),
            sa.func.count().filter(f.answered == 1),
            sa.func.count().filter(f.completed == 1),
        )
        .group_by(f.channel, f.status, f.reason)
    )
    groups: dict[str, dict] = {}
    total = _empty()
    for channel, status, reason, *numbers in db.session.execute(tally):
        group = groups.setdefault(Channel(channel).value, _empty())
        for counts in (group, total):
            for stage, number in zip(STAGES, numbers):
                counts[stage] += number
            if DispatchStatus(status) == DispatchStatus.SUPPRESSED:
                counts["suppressed"] += numbers[0]
                key = reason or "unknown"
                counts["reasons"][key] = counts["reasons"].get(key, 0) + numbers[0]
    medians = _medians(families, db.session.get_bind().dialect.name) if total["answered"] else {}
    result = {"survey_id": survey.id, "since": since, "until": until, **total, "response_rate": _rate(total),
              "median_seconds_to_answer": medians.get(None)}
    if group_by == "channel":
        result["groups"] = [{"channel": channel, **groups[channel], "response_rate": _rate(groups[channel]),
                             "median_seconds_to_answer": medians.get(channel)} for channel in sorted(groups)]
    return result
