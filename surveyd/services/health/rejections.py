"""Counting inbound webhook requests refused for their signature: one row per source and minute, so a storm of
forged requests costs one row a minute, and a wrong public URL (every real request refused) shows in the checks."""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from surveyd.extensions import db
from surveyd.models import WebhookRejection, utcnow

log = logging.getLogger(__name__)


def count(source: str, now: datetime | None = None) -> None:
    """Add one refused request from `source` (twilio, telegram) to this minute's count; commits on its own."""
    minute = (now or utcnow()).replace(second=0, microsecond=0)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(WebhookRejection).values(source=source, minute=minute, count=1)
    statement = statement.on_conflict_do_update(index_elements=["source", "minute"],
                                                set_={"count": WebhookRejection.count + 1})
    db.session.execute(statement)
    db.session.commit()


def count_safely(source: str) -> None:
    """`count`, never raising: a refusal must stay a refusal even when the database is busy."""
    try:
        count(source)
    except Exception:
        db.session.rollback()
        log.warning("could not count a refused %s webhook", source, exc_info=True)


def since(moment: datetime) -> dict[str, int]:
    """Refused requests per source since a moment."""
    return dict(db.session.execute(
        sa.select(WebhookRejection.source, sa.func.sum(WebhookRejection.count))
        .where(WebhookRejection.minute >= moment.replace(second=0, microsecond=0))
        .group_by(WebhookRejection.source)).all())


def forget_before(moment: datetime) -> None:
    """Drop counts older than the checks look at (the caller commits)."""
    db.session.execute(sa.delete(WebhookRejection).where(WebhookRejection.minute < moment))
