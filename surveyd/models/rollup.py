"""Score rollups: each survey's answers counted per local day and per group, so a year of figures reads a few
thousand rows instead of every answer. Derived data: the responses stay the truth, and a day whose answers
changed since its rollup was written is read from them instead (see services/insight/rollups.py)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base

SCORES = range(11)  # every kind's scale lies within 0..10 (services/design/scales.py)


class ScoreRollup(Base):
    """How many answers of each score a survey got on one local day (in the rollup zone) within one group of one
    dimension: `all` (value NULL), `channel`, `locale`, `touchpoint` (its id), `agent`, `sentiment`, or a configured
    `contact.<name>` or `attribute.<name>`."""

    __tablename__ = "score_rollups"
    __table_args__ = (sa.Index("ix_score_rollups_read", "survey_id", "dimension", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int]
    day: Mapped[date]
    dimension: Mapped[str] = mapped_column(sa.String(80))
    value: Mapped[str | None] = mapped_column(sa.Text)  # the group's key as the figures show it; NULL for none
    n0: Mapped[int] = mapped_column(default=0)
    n1: Mapped[int] = mapped_column(default=0)
    n2: Mapped[int] = mapped_column(default=0)
    n3: Mapped[int] = mapped_column(default=0)
    n4: Mapped[int] = mapped_column(default=0)
    n5: Mapped[int] = mapped_column(default=0)
    n6: Mapped[int] = mapped_column(default=0)
    n7: Mapped[int] = mapped_column(default=0)
    n8: Mapped[int] = mapped_column(default=0)
    n9: Mapped[int] = mapped_column(default=0)
    n10: Mapped[int] = mapped_column(default=0)


class RollupMark(Base):
    """A survey's UTC day whose scored answers or invitations changed (written by database triggers on responses,
    answers' sentiment, events' and contacts' attributes, dispatches and their delivery reports, in the changing
    transaction; for the funnel, the day is that of the family's invitation). Append-only, so writers never wait on each
    other; the refresh deletes the marks it has rebuilt."""

    __tablename__ = "rollup_marks"
    __table_args__ = (sa.Index("ix_rollup_marks_survey_id_day", "survey_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int]
    day: Mapped[date]


class RollupState(Base):
    """One row: the zone the rollups' days are counted in (NULL until first built), the configured attributes they
    count by, and the last refresh."""

    __tablename__ = "rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone: Mapped[str | None] = mapped_column(sa.String(64))
    groups: Mapped[str | None] = mapped_column(sa.Text)  # SURVEYD_ROLLUP_GROUPS as built, comma-separated
    refreshed_at: Mapped[datetime | None]


class FunnelRollup(Base):
    """A survey's invitations made on one local day (in the rollup zone) with one channel, status and reason, and
    how far they got (services/insight/funnel.py defines each stage); `waits` holds the whole milliseconds from
    sending to the first answer of each such invitation that was sent and answered, as little-endian int64s, so
    the median of any run of days is exact."""

    __tablename__ = "funnel_rollups"
    __table_args__ = (sa.Index("ix_funnel_rollups_read", "survey_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int]
    day: Mapped[date]
    channel: Mapped[str] = mapped_column(sa.String(24))
    status: Mapped[str] = mapped_column(sa.String(24))
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    planned: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)
    delivery_reported: Mapped[int] = mapped_column(default=0)
    opened: Mapped[int] = mapped_column(default=0)
    answered: Mapped[int] = mapped_column(default=0)
    completed: Mapped[int] = mapped_column(default=0)
    waits: Mapped[bytes] = mapped_column(sa.LargeBinary, default=b"")
