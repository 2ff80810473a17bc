"""Surveys and their immutable versions."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, enum_column, utcnow


class SurveyKind(str, enum.Enum):
    """The metric a survey measures."""

    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


class Survey(Base):
    """A survey as staff know it; its content lives in versions."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[SurveyKind] = mapped_column(enum_column(SurveyKind))
    template: Mapped[str | None] = mapped_column(sa.String(40))
    current_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list["SurveyVersion"]] = relationship(
        back_populates="survey", order_by="SurveyVersion.number", cascade="all, delete-orphan"
    )

    @property
    def latest(self) -> "SurveyVersion":
        """The version new dispatches use."""
        return next(v for v in self.versions if v.number == self.current_version)


class SurveyVersion(Base):
    """One frozen definition of a survey: questions, texts per locale, alert rule."""

    __tablename__ = "survey_versions"
    __table_args__ = (sa.UniqueConstraint("survey_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    number: Mapped[int]
    locales: Mapped[list[Any]]
    questions: Mapped[list[Any]]
    alert: Mapped[dict[str, Any]]
    # The survey's own email wording per locale, {"subject": {...}, "intro": {...}}, with {placeholders}
    # for the contact's name and the event's attributes; None or missing keys = the built-in wording.
    email: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    survey: Mapped[Survey] = relationship(back_populates="versions")

    @property
    def default_locale(self) -> str:
        """The locale used when the contact's own is not offered."""
        return self.locales[0]

    @property
    def scale_question(self) -> dict[str, Any]:
        """The one question whose answer is the score."""
        return self.questions[0]
