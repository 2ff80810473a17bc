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
    """A survey's UTC day whose scored answers changed (written by database triggers on responses, answers'
    sentiment, events' and contacts' attributes, in the changing transaction). Append-only, so writers never wait on each
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
