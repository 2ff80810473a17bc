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

The counts come from two grouped queries; the median time to answer reads only the (sent_at, answered_at) pairs of
answered invitations, one pair per answer: fine for a survey's period, to be moved into SQL past a few 100,000.
"""
from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from surveyd.extensions import db
from surveyd.models import (
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


def _reached(survey: Survey, since: datetime | None) -> sa.Subquery:
    """Per invitation id (root), how far it and its reminders got: one row per invitation that has any dispatch."""
    # A reminder is made after its invitation, so since bounds the whole family; until cannot (reminders come later).
    bounds = [Dispatch.survey_id == survey.id] + ([Dispatch.created_at >= since] if since else [])
    root = sa.func.coalesce(Dispatch.parent_id, Dispatch.id)
    reported = sa.select(DispatchStatusChange.dispatch_id).where(
        DispatchStatusChange.status == DispatchStatus.DELIVERED)
    return (
        sa.select(
            root.label("root"),
            _flag(Dispatch.id.in_(reported)).label("reported"),
            _flag(Dispatch.opened_at.is_not(None)).label("opened"),
            _flag(Response.score.is_not(None)).label("answered"),
            _flag(Response.completed.is_(True)).label("completed"),
            sa.func.min(Response.created_at).label("answered_at"),
        )
        .outerjoin(Response, Response.dispatch_id == Dispatch.id)
        .where(*bounds)
        .group_by(root)
        .subquery()
    )


def _empty() -> dict:
    return {**{stage: 0 for stage in STAGES}, "suppressed": 0, "reasons": {}, "durations": []}


def _finish(counts: dict) -> dict:
    durations = counts.pop("durations")
    counts["response_rate"] = round(counts["answered"] / counts["sent"] * 100, 2) if counts["sent"] else None
    counts["median_seconds_to_answer"] = round(statistics.median(durations), 1) if durations else None
    return counts


def funnel(survey: Survey, since: datetime | None, until: datetime | None, group_by: str | None = None) -> dict:
    """The funnel's counts overall and, with group_by="channel", per channel of the invitation."""
    if group_by is not None and group_by not in GROUPINGS:
        raise Invalid("cannot group the funnel so", {"group_by": [f"Must be one of {', '.join(GROUPINGS)}."]})
    if since and until and since >= until:
        raise Invalid("the period is empty", {"until": ["Must be after since."]})
    invitation = aliased(Dispatch)
    reached = _reached(survey, since)
    members = [invitation.survey_id == survey.id, invitation.purpose == DispatchPurpose.INVITATION]
    if since:
        members.append(invitation.created_at >= since)
    if until:
        members.append(invitation.created_at < until)
    sent = invitation.sent_at.is_not(None)
    tally = (
        sa.select(
            invitation.channel,
            sa.func.count(),
            sa.func.count().filter(sent),
            sa.func.count().filter(sent, sa.or_(reached.c.reported == 1, reached.c.opened == 1,
                                                reached.c.answered == 1)),
            sa.func.count().filter(sent, reached.c.reported == 1),
            sa.func.count().filter(reached.c.opened == 1),
            sa.func.count().filter(reached.c.answered == 1),
            sa.func.count().filter(reached.c.completed == 1),
        )
        .outerjoin(reached, reached.c.root == invitation.id)
        .where(*members)
        .group_by(invitation.channel)
    )
    groups: dict[str, dict] = {}
    for channel, *numbers in db.session.execute(tally):
        groups[channel.value] = {**_empty(), **dict(zip(STAGES, numbers))}
    suppressed = (
        sa.select(invitation.channel, invitation.reason, sa.func.count())
        .where(*members, invitation.status == DispatchStatus.SUPPRESSED)
        .group_by(invitation.channel, invitation.reason)
    )
    for channel, reason, number in db.session.execute(suppressed):
        group = groups[channel.value]
        group["suppressed"] += number
        group["reasons"][reason or "unknown"] = group["reasons"].get(reason or "unknown", 0) + number
    timings = (
        sa.select(invitation.channel, invitation.sent_at, reached.c.answered_at)
        .join(reached, reached.c.root == invitation.id)
        .where(*members, sent, reached.c.answered == 1)
    )
    for channel, sent_at, answered_at in db.session.execute(timings):
        groups[channel.value]["durations"].append(max(0.0, (answered_at - sent_at).total_seconds()))
    total = _empty()
    for group in groups.values():
        for key in (*STAGES, "suppressed", "durations"):
            total[key] += group[key]
        total["reasons"] = dict(Counter(total["reasons"]) + Counter(group["reasons"]))
    result = {"survey_id": survey.id, "since": since, "until": until, **_finish(total)}
    if group_by == "channel":
        result["groups"] = [{"channel": channel, **_finish(groups[channel])} for channel in sorted(groups)]
    return result
