"""Keeping themes current, the relay's chore (hourly). For last month (until a week after it ended) and this one:
a month without themes gets them once it has enough comments; a month whose themes nobody has touched is grouped
afresh when its comments have grown by a quarter since, so early themes do not freeze a month's picture; once
staff have named, merged or moved anything, the month's themes stay and new comments are only placed in them."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Answer, CommentTheme, Response, Theme, utcnow
from surveyd.services.errors import Conflict
from surveyd.services.insight import themes
from surveyd.services.insight.periods import Period, current
from surveyd.services.runtime import settings

log = logging.getLogger(__name__)
EVERY_SECONDS = 3600.0
GROWTH_TO_REGROUP = 1.25
LAST_MONTH_FOR = timedelta(days=7)


def edited(period: Period) -> bool:
    """Whether staff have named, merged or placed anything among the month's themes."""
    touched = db.session.scalar(sa.select(sa.func.count()).select_from(Theme).where(
        Theme.period_start == period.start, sa.or_(Theme.name.is_not(None), Theme.merged_into_id.is_not(None))))
    placed = db.session.scalar(sa.select(sa.func.count()).select_from(CommentTheme).join(
        Answer, Answer.id == CommentTheme.answer_id).join(Response, Response.id == Answer.response_id).where(
        CommentTheme.set_by == themes.STAFF, Response.created_at >= period.since, Response.created_at < period.until))
    return bool(touched or placed)


def _grouped_when(period: Period) -> tuple[int, int]:
    """(comments the month's themes were built from or placed since, comments the month has now)."""
    have = db.session.scalar(sa.select(sa.func.count()).select_from(CommentTheme).join(
        Answer, Answer.id == CommentTheme.answer_id).join(Response, Response.id == Answer.response_id).where(
        Response.created_at >= period.since, Response.created_at < period.until))
    return have, len(themes._comments(period))


def keep_up(now: datetime | None = None) -> int:
    """One pass over last month and this one; returns the comments placed. Never raises for a busy month."""
    now = now or utcnow()
    zone = settings().default_timezone
    this = current("month", now, zone)
    months = [this] + ([this.previous()] if now - this.since < LAST_MONTH_FOR else [])
    placed = 0
    for period in months:
        try:
            placed += _keep_up(period)
        except Conflict:
            db.session.rollback()  # another relay grouped it meanwhile; the next pass places what is new
    return placed


def _keep_up(period: Period) -> int:
    has_themes = db.session.scalar(sa.select(sa.func.count()).select_from(Theme).where(
        Theme.period_start == period.start))
    fresh = False
    if has_themes and not edited(period):
        grouped, now_count = _grouped_when(period)
        fresh = now_count >= GROWTH_TO_REGROUP * max(grouped, 1)
    db.session.rollback()
    done = themes.build(period, fresh=fresh)
    if done["themes"] or done["assigned"]:
        log.info("themes of %s: %d new themes, %d comments placed, %d in none", period.label, done["themes"],
                 done["assigned"], done["unthemed"])
    return done["assigned"]
