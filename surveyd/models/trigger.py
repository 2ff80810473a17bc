"""Triggers: which survey a touchpoint sends, how and when."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, utcnow
from surveyd.models.survey import Survey
from surveyd.models.touchpoint import Touchpoint


class Trigger(Base):
    """A rule: after this touchpoint, ask this survey on these channels."""

    __tablename__ = "triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("touchpoints.id"), index=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id"), index=True)
    channels: Mapped[list[Any]]
    delay_seconds: Mapped[int] = mapped_column(default=0)
    quiet_hours: Mapped[dict[str, Any] | None]
    throttle_days: Mapped[int | None]
    sample_rate: Mapped[float] = mapped_column(default=1.0)
    conditions: Mapped[list[Any]] = mapped_column(default=list)
    reminder: Mapped[dict[str, Any] | None]
    expire_after_seconds: Mapped[int | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    touchpoint: Mapped[Touchpoint] = relationship()
    survey: Mapped[Survey] = relationship()
