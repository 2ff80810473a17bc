"""Local calendar days of a time zone, counted by the database: the day an answer falls on where staff read it.

A zone's UTC offset is constant between its transitions (DST, law changes), so over [since, until) the local day
of a stored UTC instant is floor((epoch seconds + offset) / 86400), with the offset picked by which piece between
transitions the instant falls in. The database does that arithmetic per row; Python only finds the transitions.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

EPOCH_DAY = date(1970, 1, 1)
STEP = timedelta(hours=6)  # no zone changes its offset twice within six hours


@dataclass(frozen=True)
class Piece:
    """[start, end) in UTC, over which the zone's offset is `offset` seconds."""

    start: datetime
    end: datetime
    offset: int


def _offset(zone: ZoneInfo, moment: datetime) -> int:
    return int(moment.astimezone(zone).utcoffset().total_seconds())


def _transition(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first second in (low, high] whose offset differs from low's (there is exactly one such change)."""
    before = _offset(zone, low)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle <= low:
            middle = low + timedelta(seconds=1)
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high


def pieces(zone_name: str, since: datetime, until: datetime) -> list[Piece]:
    """[since, until) cut at the zone's offset changes, each piece with its offset."""
    zone = ZoneInfo(zone_name)
    found: list[Piece] = []
    start, at = since, since
    while at < until:
        step = min(at + STEP, until)
        if _offset(zone, step) != _offset(zone, at):
            change = _transition(zone, at, step)
            found.append(Piece(start, change, _offset(zone, start)))
            start = change
        at = step
    found.append(Piece(start, until, _offset(zone, start)))
    return found


def epoch_seconds(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """Whole seconds since 1970 of a UTCDateTime column (SQLite keeps it as 'YYYY-MM-DD HH:MM:SS[.ffffff]' UTC)."""
    if dialect == "sqlite":
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)
    return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)


def day_number(column: sa.ColumnElement, dialect: str, zone_name: str,
               since: datetime, until: datetime) -> sa.ColumnElement:
    """Days since 1970-01-01 of the local date, in the zone, of each row's instant in [since, until)."""
    cut = pieces(zone_name, since, until)
    seconds = epoch_seconds(column, dialect)
    if len(cut) == 1:
        shifted = seconds + sa.literal(cut[0].offset, sa.Integer)
    else:
        shifted = seconds + sa.case(*[(column < piece.end, piece.offset) for piece in cut[:-1]], else_=cut[-1].offset).cast(sa.Integer)
    # Integer division (`//`, not `/`, which SQLAlchemy makes a true division); instants here are after 1970,
    # so truncating floors.
    return shifted // 86400


def to_date(number: int) -> date:
    """The date a day number names."""
    return EPOCH_DAY + timedelta(days=int(number))


def local_midnight(day: date, zone_name: str) -> datetime:
    """The UTC instant a local day begins in the zone (the earlier one when midnight happens twice)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone_name)).astimezone(timezone.utc)
