"""Touchpoints and the journey stage each belongs to."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base, enum_column, utcnow


class Stage(str, enum.Enum):
    """Where in the customer journey a touchpoint sits."""

    AWARENESS = "awareness"
    CONSIDERATION = "consideration"
    PURCHASE = "purchase"
    POST_PURCHASE = "post_purchase"
    SUPPORT = "support"


class Touchpoint(Base):
    """A moment an integrator reports, such as order.delivered."""

    __tablename__ = "touchpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    stage: Mapped[Stage] = mapped_column(enum_column(Stage))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
