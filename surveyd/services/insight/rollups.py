"""Score rollups: every survey's answers counted per local day (in the app's default zone) and per group, so a
year of figures reads a few thousand rows, not every answer. Exact, never approximately fresh:

- Database triggers (migration 0017) append a mark for a survey's UTC day in every transaction that adds,
  removes or changes a scored answer, a comment's sentiment or an event's attributes.
- A figure reads the rollup for the whole local days of its period that no mark touches, and the responses
  themselves for the rest: the period's partial first and last days and every marked day. Both parts are the
  same grouped count (`_counts`), so a day reads the same either way.
- The relay's chore (`refresh`) rebuilds marked days from the responses and deletes the marks it read, counting
  in one snapshot (one REPEATABLE READ transaction on PostgreSQL; on SQLite a read-only snapshot beside the one
  writer, then a short write): a change committed meanwhile keeps its mark, and its day stays read from the
  responses until the next pass.
- When the default zone or SURVEYD_ROLLUP_GROUPS changes, every day is marked and rebuilt.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from surveyd.database import SNAPSHOT
from surveyd.extensions import db
from surveyd.models import (
    Dispatch,
    FunnelRollup,
    Response,
    RollupMark,
    RollupState,
    ScoreRollup,
    utcnow,
)
from surveyd.models.rollup import SCORES
from surveyd.services.insight import local_days
from surveyd.services.insight.groups import group_column
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)

EVERY_SECONDS = 30.0
BATCH_DAYS = 62  # marked (survey, UTC day) pairs one refresh transaction rebuilds
BATCHES_PER_PASS = 8  # so a first build of years of answers never holds the relay for long
MOST_MARKED_DAYS = 62  # a period with more marked days than this reads every answer from the responses
DIMENSIONS = ("all", "channel", "locale", "touchpoint", "agent", "sentiment")  # and SURVEYD_ROLLUP_GROUPS
STATE_ID = 1
COUNTS = [getattr(ScoreRollup, f"n{score}") for score in SCORES]

Key = tuple[int, "date | None", "str | None"]  # (survey id, local day or None, group value)


def dimensions() -> tuple[str, ...]:
    """Every dimension rolled up: the fixed ones and the configured contact and event attributes."""
    return DIMENSIONS + settings().rollup_groups


def rolled_up(group_by: str | None) -> str | None:
    """The rollup dimension a figure's group reads, or None when it has none (attributes not configured in
    SURVEYD_ROLLUP_GROUPS are read from the responses). Stages and touchpoints both read `touchpoint` (by id,
    named when read), so renaming a touchpoint or moving it to another stage needs no rebuild."""
    if group_by is None:
        return "all"
    if group_by in ("stage", "touchpoint"):
        return "touchpoint"
    if group_by == "attribute.agent":
        return "agent"
    return group_by if group_by in dimensions() else None


def _layout() -> tuple[str, str]:
    """What the rollups must have been built for: the zone of their days, and the configured attributes."""
    return settings().default_timezone, ",".join(settings().rollup_groups)


def _value(dimension: str) -> tuple[sa.ColumnElement | None, Callable[[sa.Select], sa.Select], Callable[[Any], Any]]:
    """A dimension's SQL expression, join and key: the figures' own (services/insight/groups.py), except a
    touchpoint, which is kept by id."""
    if dimension == "all":
        return None, lambda query: query, lambda value: None
    if dimension == "touchpoint":
        return Response.touchpoint_id, lambda query: query, lambda value: None if value is None else str(value)
    return group_column(dimension)


def _utc_day(dialect: str, column: sa.ColumnElement = Response.created_at) -> sa.ColumnElement:
    """The UTC day of a stored instant, as the triggers write it."""
    if dialect == "sqlite":
        return sa.func.date(column)
    return sa.cast(sa.func.timezone("UTC", column), sa.Date)


def _counts(survey_ids: Iterable[int], dimension: str, ranges: list[tuple[datetime, datetime]],
            zone: str | None) -> dict[Key, Counter]:
    """Answers counted from the responses over UTC ranges [since, until): per survey, local day of `zone` (None:
    not per day) and group value."""
    column, join, key = _value(dimension)
    ids = list(survey_ids)
    dialect = db.session.get_bind().dialect.name
    counts: dict[Key, Counter] = defaultdict(Counter)
    for since, until in ranges:
        day = (local_days.day_number(Response.created_at, dialect, zone, since, until).label("day")
               if zone else sa.literal(None).label("day"))
        value = (column if column is not None else sa.literal(None)).label("value")
        query = join(sa.select(Response.survey_id, day, value, Response.score, sa.func.count())
                     .select_from(Response)
                     .where(Response.survey_id.in_(ids), Response.score.is_not(None),
                            Response.created_at >= since, Response.created_at < until))
        grouped = query.group_by(Response.survey_id, day, value, Response.score) if zone else \
            query.group_by(Response.survey_id, value, Response.score)
        for survey_id, number, found, score, count in db.session.execute(grouped):
            counts[(survey_id, local_days.to_date(number) if zone else None, key(found))][score] += count
    return counts


# -- reading ---------------------------------------------------------------------------------------------------


def tallies(survey_ids: list[int], dimension: str, since: datetime | None, until: datetime | None,
            per_day: bool) -> dict[Key, Counter] | None:
    """Answers of the surveys created in [since, until), counted per (survey, local day if `per_day` else None,
    group value) of a rollup dimension: the rollup for unmarked whole days, the responses for the rest. None when
    the rollups cannot serve (never built, built for another layout, or too many marked days): read the
    responses."""
    plan = split(survey_ids, since, until)
    if plan is None:
        return None
    zone = settings().default_timezone
    counts = _counts(survey_ids, dimension, plan.ranges, zone if per_day else None)
    for key, counted in _rolled(survey_ids, dimension, plan.first, plan.last, plan.marked, per_day).items():
        counts[key].update(counted)
    return counts


@dataclass(frozen=True)
class Split:
    """A period cut for reading: the whole local days [first, last] (None: unbounded) less `marked` come from
    the rollups; the UTC `ranges` (partial first and last days, marked days) from the rows themselves."""

    first: date | None
    last: date | None
    marked: frozenset[date]
    ranges: list[tuple[datetime, datetime]]


def split(survey_ids: list[int], since: datetime | None, until: datetime | None) -> Split | None:
    """How to read [since, until) for these surveys, or None when the rollups cannot serve it."""
    zone, groups = _layout()
    built = db.session.execute(sa.select(RollupState.zone, RollupState.groups)
                               .where(RollupState.id == STATE_ID)).first()
    if built is None or tuple(built) != (zone, groups) or not survey_ids:
        return None
    first = None if since is None else _first_whole_day(since, zone)
    last = None if until is None else _last_whole_day(until, zone)
    if first is not None and last is not None and first > last:
        return None  # not one whole day: nothing to gain
    marked = _marked_days(survey_ids, zone, first, last)
    if marked is None:
        return None
    ranges = []
    if since is not None and since < _midnight(first, zone):
        ranges.append((since, _midnight(first, zone)))
    if until is not None and _midnight(last + timedelta(days=1), zone) < until:
        ranges.append((_midnight(last + timedelta(days=1), zone), until))
    ranges += [(_midnight(start, zone), _midnight(end + timedelta(days=1), zone)) for start, end in _runs(marked)]
    return Split(first, last, frozenset(marked), ranges)


def _rolled(survey_ids: list[int], dimension: str, first: date | None, last: date | None, marked: frozenset[date],
            per_day: bool) -> dict[Key, Counter]:
    """The rollup's counts over [first, last] without the marked days."""
    keys = [ScoreRollup.survey_id, ScoreRollup.day if per_day else sa.literal(None).label("day"), ScoreRollup.value]
    query = (sa.select(*keys, *[sa.func.sum(count) for count in COUNTS])
             .where(ScoreRollup.survey_id.in_(survey_ids), ScoreRollup.dimension == dimension))
    if first is not None:
        query = query.where(ScoreRollup.day >= first)
    if last is not None:
        query = query.where(ScoreRollup.day <= last)
    if marked:
        query = query.where(ScoreRollup.day.not_in(sorted(marked)))
    query = query.group_by(*(keys if per_day else (ScoreRollup.survey_id, ScoreRollup.value)))
    counts: dict[Key, Counter] = {}
    for survey_id, day, value, *numbers in db.session.execute(query):
        counts[(survey_id, day, value)] = Counter({score: int(n) for score, n in zip(SCORES, numbers) if n})
    return counts


def _marked_days(survey_ids: list[int], zone: str, first: date | None, last: date | None) -> set[date] | None:
    """The local days within [first, last] that a mark touches; None when there are too many to be worth it."""
    query = sa.select(RollupMark.day).distinct().where(RollupMark.survey_id.in_(survey_ids))
    if first is not None:  # a local day shares instants only with UTC days at most one away
        query = query.where(RollupMark.day >= first - timedelta(days=1))
    if last is not None:
        query = query.where(RollupMark.day <= last + timedelta(days=1))
    utc_days = db.session.scalars(query.limit(MOST_MARKED_DAYS * 4)).all()
    if len(utc_days) >= MOST_MARKED_DAYS * 4:
        return None
    marked = {day for utc_day in utc_days for day in local_days_of(utc_day, zone)
              if (first is None or day >= first) and (last is None or day <= last)}
    return None if len(marked) > MOST_MARKED_DAYS else marked


def local_days_of(utc_day: date, zone: str) -> set[date]:
    """The local days of a zone that share an instant with a UTC day (one or two)."""
    start = datetime(utc_day.year, utc_day.month, utc_day.day, tzinfo=timezone.utc)
    tz = ZoneInfo(zone)
    first = start.astimezone(tz).date()
    last = (start + timedelta(days=1) - timedelta(microseconds=1)).astimezone(tz).date()
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def _first_whole_day(since: datetime, zone: str) -> date:
    day = since.astimezone(ZoneInfo(zone)).date()
    while _midnight(day, zone) < since:
        day += timedelta(days=1)
    return day


def _last_whole_day(until: datetime, zone: str) -> date:
    day = until.astimezone(ZoneInfo(zone)).date()
    while _midnight(day + timedelta(days=1), zone) > until:
        day -= timedelta(days=1)
    return day


def _midnight(day: date, zone: str) -> datetime:
    return local_days.local_midnight(day, zone)


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as [first, last] runs."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(start, end) for start, end in runs]


# -- refreshing -------------------------------------------------------------------------------------------------


def refresh(batches: int = BATCHES_PER_PASS) -> int:
    """The relay's chore: rebuild up to `batches` transactions' worth of marked days; returns the marks cleared.
    Never raises for a busy database or a refresh running elsewhere: the marks wait for the next pass."""
    db.session.commit()  # end any read the relay's pass left open: the refresh picks its own isolation
    cleared = 0
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    for _ in range(batches):
        try:
            if postgresql:  # one snapshot for the marks and the answers they stand for
                db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            done = _refresh_once()
        except (OperationalError, IntegrityError) as error:  # locked, a serialization failure, a racing insert
            db.session.rollback()
            log.info("rollup refresh deferred: %s", error.orig)
            break
        if done is None:
            continue  # the layout changed: every day is marked now
        cleared += done
        if not done:
            break
    return cleared


@dataclass
class _Batch:
    """Marked (survey, UTC day) pairs and their rollup rows counted afresh, read in one snapshot: how many marks the
    pairs had up to `last_mark` (the newest mark then), and per survey its UTC days and the rows of its local days."""

    last_mark: int
    marks: int = 0
    surveys: dict[int, tuple[list[date], list[tuple[date, date]], list[dict], list[dict]]] = field(default_factory=dict)


def _refresh_once() -> int | None:
    """One refresh: the rollups' zone brought in line (marking every day; None), or up to BATCH_DAYS marked
    (survey, UTC day) pairs rebuilt (the marks cleared). PostgreSQL: one REPEATABLE READ transaction, begun by the
    caller, that writes first so refreshes queue. SQLite: the counting reads a snapshot that does not hold the
    database's one writer (it takes as long as the day is big, and ingest would wait behind it); then one short
    write transaction stores the rows, unless the marks it read are gone (another process refreshed them)."""
    zone, groups = _layout()
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite:
        db.session.connection(execution_options={SNAPSHOT: True})
    else:
        _claim()
    batch = _read_batch(zone)
    if sqlite:
        db.session.commit()  # the snapshot ends; the writes below take the writer
        _claim()
    built = db.session.execute(sa.select(RollupState.zone, RollupState.groups)
                               .where(RollupState.id == STATE_ID)).one()
    if tuple(built) != (zone, groups):
        _mark_everything(db.session.get_bind().dialect.name, zone, groups)
        db.session.commit()
        return None
    return _store(batch)


def _claim() -> None:
    """The refresh's first write: it serializes refreshes (the row's lock on PostgreSQL, the writer on SQLite)."""
    now = utcnow()
    if not db.session.execute(sa.update(RollupState).where(RollupState.id == STATE_ID)
                              .values(refreshed_at=now)).rowcount:
        db.session.add(RollupState(id=STATE_ID, zone=None, refreshed_at=now))
        db.session.flush()


def _read_batch(zone: str) -> _Batch:
    """The oldest marked pairs and their rows counted afresh, all read in the transaction's one snapshot."""
    batch = _Batch(last_mark=db.session.scalar(sa.select(sa.func.max(RollupMark.id))) or 0)
    pairs = db.session.execute(sa.select(RollupMark.survey_id, RollupMark.day, sa.func.count())
                               .where(RollupMark.id <= batch.last_mark)
                               .group_by(RollupMark.survey_id, RollupMark.day)
                               .order_by(RollupMark.survey_id, RollupMark.day).limit(BATCH_DAYS)).all()
    by_survey: dict[int, list[date]] = defaultdict(list)
    for survey_id, day, marks in pairs:
        by_survey[survey_id].append(day)
        batch.marks += marks
    for survey_id, utc_days in by_survey.items():
        runs = _runs({day for utc_day in utc_days for day in local_days_of(utc_day, zone)})
        scores, cells = [], []
        for start, end in runs:
            more_scores, more_cells = _rows(survey_id, start, end, zone)
            scores += more_scores
            cells += more_cells
        batch.surveys[survey_id] = (utc_days, runs, scores, cells)
    return batch


def _store(batch: _Batch) -> int:
    """Replace the batch's days with its rows and clear the marks it read; 0 and nothing stored when some of those
    marks are gone: another refresh got there first, with a snapshot that may be newer than this one."""
    cleared = 0
    for survey_id, (utc_days, runs, scores, cells) in batch.surveys.items():
        cleared += db.session.execute(sa.delete(RollupMark).where(
            RollupMark.survey_id == survey_id, RollupMark.day.in_(utc_days),
            RollupMark.id <= batch.last_mark)).rowcount
        for start, end in runs:
            for model in (ScoreRollup, FunnelRollup):
                db.session.execute(sa.delete(model).where(
                    model.survey_id == survey_id, model.day >= start, model.day <= end))
        if scores:
            db.session.execute(sa.insert(ScoreRollup), scores)
        if cells:
            db.session.execute(sa.insert(FunnelRollup), cells)
    if cleared != batch.marks:
        db.session.rollback()
        log.info("rollup refresh: %d of %d marks were already cleared elsewhere; this batch is dropped",
                 batch.marks - cleared, batch.marks)
        return 0
    db.session.commit()
    return cleared


def _mark_everything(dialect: str, zone: str, groups: str) -> None:
    """Forget the rollups, mark every survey's every answered UTC day, and count days in `zone` (and by the
    attributes `groups`) from now on."""
    db.session.execute(sa.delete(ScoreRollup))
    db.session.execute(sa.delete(FunnelRollup))
    day = _utc_day(dialect)
    db.session.execute(sa.insert(RollupMark).from_select(
        ["survey_id", "day"],
        sa.select(Response.survey_id, day).where(Response.score.is_not(None)).group_by(Response.survey_id, day)))
    invited = _utc_day(dialect, Dispatch.created_at)
    db.session.execute(sa.insert(RollupMark).from_select(
        ["survey_id", "day"], sa.select(Dispatch.survey_id, invited).group_by(Dispatch.survey_id, invited)))
    db.session.execute(sa.update(RollupState).where(RollupState.id == STATE_ID).values(zone=zone, groups=groups))
    log.info("rollups: every day marked for a rebuild in %s, by %s", zone, groups or "no attribute")


def _rows(survey_id: int, start: date, end: date, zone: str) -> tuple[list[dict], list[dict]]:
    """A survey's local days [start, end] counted afresh: its score rollup rows from its responses, in every
    dimension, and its funnel rollup rows from its invitations of those days."""
    span = [(_midnight(start, zone), _midnight(end + timedelta(days=1), zone))]
    scores = []
    for dimension in dimensions():
        for (_, day, value), counted in _counts([survey_id], dimension, span, zone).items():
            scores.append({"survey_id": survey_id, "day": day, "dimension": dimension, "value": value,
                           **{f"n{score}": counted.get(score, 0) for score in SCORES}})
    from surveyd.services.insight import (
        funnel,  # the funnel reads the rollups too: imported late, not in a cycle
    )

    cells = funnel.cells_by_day(survey_id, span[0][0], span[0][1], zone)
    return scores, [{"survey_id": survey_id, "day": day, "channel": channel, "status": status, "reason": reason,
                     **dict(zip(funnel.STAGES, cell.counts)), "waits": funnel.pack(cell.waits)}
                    for (day, channel, status, reason), cell in cells.items()]
