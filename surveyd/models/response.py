"""Responses and the answers they hold."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from surveyd.models.base import Base, enum_column, utcnow
from surveyd.models.channel import Channel
from surveyd.models.contact import Contact
from surveyd.models.dispatch import Dispatch
from surveyd.models.survey import SurveyVersion


class Response(Base):
    """Everything one contact answered to one dispatch, partial or complete."""

    __tablename__ = "responses"
    __table_args__ = (
        sa.Index("ix_responses_survey_id_created_at", "survey_id", "created_at"),
        # The insight figures read these instead of the table (migration 0011).
        sa.Index("ix_responses_insight", "survey_id", "created_at", "score", "touchpoint_id", "channel", "locale",
                 "event_id", "contact_id"),
        sa.Index("ix_responses_journey", "created_at", "touchpoint_id", "survey_id", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(sa.ForeignKey("dispatches.id", ondelete="CASCADE"), unique=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id"))
    survey_version_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_versions.id"))
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    touchpoint_id: Mapped[int | None] = mapped_column(sa.ForeignKey("touchpoints.id"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    locale: Mapped[str] = mapped_column(sa.String(16))
    score: Mapped[int | None]
    completed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    dispatch: Mapped[Dispatch] = relationship()
    survey_version: Mapped[SurveyVersion] = relationship()
    contact: Mapped[Contact] = relationship()
    answers: Mapped[list["Answer"]] = relationship(
        order_by="Answer.id", cascade="all, delete-orphan", back_populates="response", lazy="selectin"
    )

    def answer_to(self, question_id: str) -> "Answer | None":
        """The answer given to one question, if any."""
        return next((a for a in self.answers if a.question_id == question_id), None)


PENDING_SENTIMENT = "pending"  # a free-text answer stored and not yet read by the sentiment analyser


class Answer(Base):
    """The answer to one question; a score, a choice or free text."""

    __tablename__ = "answers"
    __table_args__ = (
        sa.UniqueConstraint("response_id", "question_id"),
        # The labeller's sweep looks only at comments not yet read: a few rows, not every answer ever given.
        sa.Index("ix_answers_sentiment_pending", "response_id",
                 sqlite_where=sa.text("sentiment = 'pending'"), postgresql_where=sa.text("sentiment = 'pending'")),
        sa.Index("ix_answers_response_id_sentiment", "response_id", "sentiment"),  # group_by=sentiment
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(sa.String(64))
    value_number: Mapped[int | None]
    value_text: Mapped[str | None] = mapped_column(sa.Text)
    # Free text only: the sentiment analyser's label (negative, neutral, positive, or pending until it has read
    # the comment) and score in [-1, 1].
    sentiment: Mapped[str | None] = mapped_column(sa.String(8))
    sentiment_score: Mapped[float | None]
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)

    response: Mapped[Response] = relationship(back_populates="answers")

    @property
    def value(self) -> Any:
        """The answer as given: a number or text."""
        return self.value_number if self.value_number is not None else self.value_text
