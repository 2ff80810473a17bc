"""Goals: a survey's score to reach by a date, optionally for one touchpoint."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, utcnow
from surveyd.models.survey import Survey
from surveyd.models.touchpoint import Touchpoint


class Goal(Base):
    """A SMART goal: "CSAT at least 90 for order.delivered by 2027-06-30", counted from its start day."""

    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id"), index=True)
    touchpoint_id: Mapped[int | None] = mapped_column(sa.ForeignKey("touchpoints.id"))
    target: Mapped[float]
    starts_on: Mapped[date] = mapped_column(sa.Date)
    due_on: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    survey: Mapped[Survey] = relationship()
    touchpoint: Mapped[Touchpoint | None] = relationship()


class ReportRun(Base):
    """One report period sent: claimed before sending, so a schedule running in several processes sends it once."""

    __tablename__ = "report_runs"
    __table_args__ = (sa.UniqueConstraint("cadence", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cadence: Mapped[str] = mapped_column(sa.String(8))  # month or week
    period_start: Mapped[date] = mapped_column(sa.Date)
    recipients: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
