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

Counted from the dispatches, the counts come from one pass over the survey's dispatches grouped by family (an
invitation and its reminder), and the medians from a second, ranked by the database. Where the funnel rollups
serve (services/insight/rollups.py), whole unmarked days come from `funnel_rollups` (counts per day, channel,
status and reason, with every wait stored, so the median stays exact) and only the period's partial days and
days changed since the last refresh are counted from the dispatches.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import aliased

from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Dispatch,
    DispatchPurpose,
    DispatchStatus,
    DispatchStatusChange,
    FunnelRollup,
    Response,
    Survey,
)
from surveyd.services.errors import Invalid
from surveyd.services.insight import rollups

GROUPINGS = ("channel",)
STAGES = ("planned", "sent", "delivered", "delivery_reported", "opened", "answered", "completed")


def _flag(condition) -> sa.ColumnElement:
    return sa.func.max(sa.case((condition, 1), else_=0))


def _own(column: sa.ColumnElement, members=Dispatch) -> sa.ColumnElement:
    """The invitation's own value of a column, read off the one row of its family that has no parent."""
    return sa.func.max(sa.case((members.parent_id.is_(None), column)))


def _milliseconds_between(later: sa.ColumnElement, earlier: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """Whole milliseconds from one stored UTC instant to another: an integer, so the median of two is exact on every
    database (SQLite's julianday is good to about 50 microseconds here)."""
    if dialect == "sqlite":
        return sa.cast(sa.func.round((sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400000.0), sa.BigInteger)
    return sa.cast(sa.func.round(sa.extract("epoch", later - earlier) * 1000), sa.BigInteger)


def _members(survey_id: int, since: datetime | None, until: datetime | None):
    """The dispatches that may belong to a family whose invitation was made in [since, until), and the conditions
    that pick them: a reminder is made after its invitation, so `since` bounds the whole family; with `until`,
    the dispatches made in the period and the later reminders of its invitations (by parent_id), so a period
    reads its own rows and not everything after it."""
    bounds = [Dispatch.survey_id == survey_id] + ([Dispatch.created_at >= since] if since else [])
    if until is None:
        return Dispatch, bounds
    made = sa.select(Dispatch).where(*bounds, Dispatch.created_at < until)
    if db.session.scalar(sa.select(Dispatch.id).where(Dispatch.parent_id.is_not(None)).limit(1)) is None:
        # No reminder anywhere (parent_id's index answers at once): nothing comes later. Asking first matters on
        # SQLite, whose statistics then see an index of NULLs only and would walk everything after `until`.
        return aliased(Dispatch, made.subquery("members")), []
    invitations = sa.select(Dispatch.id).where(*bounds, Dispatch.created_at < until, Dispatch.parent_id.is_(None))
    later = sa.select(Dispatch).where(Dispatch.parent_id.in_(invitations), Dispatch.created_at >= until)
    return aliased(Dispatch, sa.union_all(made, later).subquery("members")), []


def _families(survey_id: int, since: datetime | None, until: datetime | None) -> sa.CTE:
    """One row per invitation created in [since, until): its channel, status and reason, and how far it and its
    reminders got. One pass over the period's dispatches grouped by family (a reminder's parent_id is its
    invitation), so no row is ever matched against another by a join the database cannot index."""
    member, bounds = _members(survey_id, since, until)
    family = sa.func.coalesce(member.parent_id, member.id)
    reported = sa.exists().where(DispatchStatusChange.dispatch_id == member.id,
                                 DispatchStatusChange.status == DispatchStatus.DELIVERED)
    created = _own(member.created_at, member)
    having = [_own(sa.case((member.purpose == DispatchPurpose.INVITATION, 1), else_=0), member) == 1]
    if until:
        having.append(created < until)  # a reminder made in the period whose invitation came later
    return (
        sa.select(
            created.label("created_at"),
            _own(member.channel, member).label("channel"),
            _own(member.status, member).label("status"),
            _own(member.reason, member).label("reason"),
            _own(member.sent_at, member).label("sent_at"),
            _flag(reported).label("reported"),
            _flag(member.opened_at.is_not(None)).label("opened"),
            _flag(Response.score.is_not(None)).label("answered"),
            _flag(Response.completed.is_(True)).label("completed"),
            sa.func.min(Response.created_at).label("answered_at"),
        )
        .select_from(member)
        .outerjoin(Response, Response.dispatch_id == member.id)
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
    split = rollups.split([survey.id], since, until)
    if split is not None:
        cells, waits = _from_rollups(survey.id, split)
        return _present(survey, since, until, group_by, cells,
                        {channel: _median_seconds(values) for channel, values in waits.items()})
    families = _families(survey.id, since, until)
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
    cells = {(Channel(channel).value, DispatchStatus(status).value, reason): Cell(counts=list(numbers))
             for channel, status, reason, *numbers in db.session.execute(tally)}
    answered = any(cell.counts[STAGES.index("answered")] for cell in cells.values())
    medians = _medians(families, db.session.get_bind().dialect.name) if answered else {}
    return _present(survey, since, until, group_by, cells, medians)


# -- through the rollups (services/insight/rollups.py) ------------------------------------------------------------


@dataclass
class Cell:
    """Invitations of one kind (day, channel, status, reason): how many reached each of STAGES, and the whole
    milliseconds each sent and answered one waited for its first answer."""

    counts: list[int] = field(default_factory=lambda: [0] * len(STAGES))
    waits: list[int] = field(default_factory=list)


def pack(waits: list[int]) -> bytes:
    """Waits as the rollup stores them: little-endian int64s."""
    return np.asarray(waits, dtype="<i8").tobytes()


ROWS_PER_FETCH = 2000  # invitations read at a time when counting them


def _family_rows(survey_id: int, since: datetime, until: datetime):
    """Per invitation created in [since, until): when, its channel, status and reason, whether it reached each
    stage (as `funnel` counts them) and, when sent and answered, its wait in whole milliseconds."""
    families = _families(survey_id, since, until)
    f = families.c
    sent = f.sent_at.is_not(None)
    dialect = db.session.get_bind().dialect.name
    waited = _milliseconds_between(f.answered_at, f.sent_at, dialect)
    # In batches: a day's invitations can be hundreds of thousands of rows, and the callers fold them into a few
    # cells as they come. Fetched all at once, the rollup refresh held the whole day in memory every 30 s, and the
    # process kept that high-water mark (a 10-minute soak grew with the day's rows; bench/README.md).
    return db.session.execute(sa.select(
        f.created_at, f.channel, f.status, f.reason,
        sa.case((sa.and_(sent, f.answered == 1), sa.case((waited < 0, 0), else_=waited))),
        sent, sa.and_(sent, sa.or_(f.reported == 1, f.opened == 1, f.answered == 1)), sa.and_(sent, f.reported == 1),
        f.opened == 1, f.answered == 1, f.completed == 1).execution_options(yield_per=ROWS_PER_FETCH))


def _fold(cells: dict, key, wait, flags) -> None:
    cell = cells.setdefault(key, Cell())
    cell.counts[0] += 1  # planned
    for index, reached in enumerate(flags, start=1):
        cell.counts[index] += bool(reached)
    if wait is not None:
        cell.waits.append(int(wait))


def cells_by_day(survey_id: int, since: datetime, until: datetime, zone: str) -> dict[tuple, Cell]:
    """The survey's invitations created in [since, until) as cells per (local day in zone, channel, status,
    reason): what the rollup keeps."""
    here = ZoneInfo(zone)
    cells: dict[tuple, Cell] = {}
    for created, channel, status, reason, wait, *flags in _family_rows(survey_id, since, until):
        day = created.astimezone(here).date() if created.tzinfo else created.replace(tzinfo=timezone.utc).astimezone(
            here).date()
        _fold(cells, (day, Channel(channel).value, DispatchStatus(status).value, reason), wait, flags)
    return cells


def _from_rollups(survey_id: int, split) -> tuple[dict[tuple, Cell], dict[str | None, np.ndarray]]:
    """Cells per (channel, status, reason) over the period: the rollup's unmarked whole days, the dispatches for
    the rest; and every sent and answered invitation's wait, per channel and overall (None)."""
    cells: dict[tuple, Cell] = {}
    waits: dict[str | None, list[np.ndarray]] = defaultdict(list)
    query = sa.select(FunnelRollup.channel, FunnelRollup.status, FunnelRollup.reason,
                      *[getattr(FunnelRollup, stage) for stage in STAGES], FunnelRollup.waits
                      ).where(FunnelRollup.survey_id == survey_id)
    if split.first is not None:
        query = query.where(FunnelRollup.day >= split.first)
    if split.last is not None:
        query = query.where(FunnelRollup.day <= split.last)
    if split.marked:
        query = query.where(FunnelRollup.day.not_in(sorted(split.marked)))
    for channel, status, reason, *numbers, blob in db.session.execute(query):
        cell = cells.setdefault((channel, status, reason), Cell())
        cell.counts = [have + more for have, more in zip(cell.counts, numbers)]
        if blob:
            waits[channel].append(np.frombuffer(blob, dtype="<i8"))
    for since, until in split.ranges:
        for created, channel, status, reason, wait, *flags in _family_rows(survey_id, since, until):
            channel = Channel(channel).value
            _fold(cells, (channel, DispatchStatus(status).value, reason), None, flags)
            if wait is not None:
                waits[channel].append(np.array([int(wait)], dtype="<i8"))
    joined = {channel: np.concatenate(parts) for channel, parts in waits.items()}
    if joined:
        joined[None] = np.concatenate(list(joined.values()))
    return cells, joined


def _median_seconds(values: np.ndarray) -> float | None:
    """The median of whole milliseconds (the mean of the middle two when even), in seconds to one decimal: what
    the database's ranked median gives."""
    n = len(values)
    if not n:
        return None
    middle = np.partition(values, [(n - 1) // 2, n // 2])
    low, high = int(middle[(n - 1) // 2]), int(middle[n // 2])
    return round((low + high) / 2 / 1000, 1)


def _present(survey: Survey, since: datetime | None, until: datetime | None, group_by: str | None,
             cells: dict[tuple, Cell], medians: dict[str | None, float | None]) -> dict:
    """The funnel's answer from cells per (channel, status, reason) and the medians per channel and overall
    (None), however they were counted."""
    groups: dict[str, dict] = {}
    total = _empty()
    for (channel, status, reason), cell in sorted(cells.items(), key=lambda item: tuple(map(str, item[0]))):
        group = groups.setdefault(channel, _empty())
        for counts in (group, total):
            for stage, number in zip(STAGES, cell.counts):
                counts[stage] += number
            if status == DispatchStatus.SUPPRESSED.value:
                counts["suppressed"] += cell.counts[0]
                key = reason or "unknown"
                counts["reasons"][key] = counts["reasons"].get(key, 0) + cell.counts[0]
    if not total["answered"]:
        medians = {}
    result = {"survey_id": survey.id, "since": since, "until": until, **total, "response_rate": _rate(total),
              "median_seconds_to_answer": medians.get(None)}
    if group_by == "channel":
        result["groups"] = [{"channel": channel, **groups[channel], "response_rate": _rate(groups[channel]),
                             "median_seconds_to_answer": medians.get(channel)} for channel in sorted(groups)]
    return result
