"""Touchpoints and their journey stages."""
from __future__ import annotations

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Stage, Touchpoint
from surveyd.services import config_cache

# A first guess at the stage from the key's words; staff correct it with PUT /touchpoints/{key}.
_STAGE_WORDS = (
    (Stage.SUPPORT, ("ticket", "support", "case", "chat", "call", "complaint", "refund", "return")),
    (Stage.PURCHASE, ("checkout", "purchase", "order.placed", "payment", "booking", "signup")),
    (Stage.CONSIDERATION, ("trial", "demo", "quote", "visit.store", "consult")),
    (Stage.AWARENESS, ("campaign", "ad.", "newsletter", "landing")),
)


def guess_stage(key: str) -> Stage:
    """The journey stage a touchpoint key most likely belongs to; post-purchase when unsure."""
    lowered = key.lower()
    for stage, words in _STAGE_WORDS:
        if any(word in lowered for word in words):
            return stage
    return Stage.POST_PURCHASE


def find_touchpoint(key: str) -> Touchpoint | None:
    """The touchpoint with this key, if it exists."""
    return db.session.scalar(sa.select(Touchpoint).where(Touchpoint.key == key))


def ensure_touchpoint(key: str) -> Touchpoint:
    """The touchpoint with this key, created with a guessed stage if new (flushes, never commits)."""
    touchpoint = find_touchpoint(key)
    if touchpoint is None:
        touchpoint = Touchpoint(key=key, stage=guess_stage(key))
        db.session.add(touchpoint)
        db.session.flush()
    return touchpoint


def touchpoint_id(key: str) -> int:
    """The id of the touchpoint with this key (cached per process), created with a guessed stage if new (flushes,
    never commits)."""
    found = config_cache.cached("touchpoint", key, lambda: db.session.scalar(
        sa.select(Touchpoint.id).where(Touchpoint.key == key)))
    return found if found is not None else ensure_touchpoint(key).id


def put_touchpoint(key: str, name: str | None, stage: str | None) -> tuple[Touchpoint, bool]:
    """Create or rename a touchpoint and set its stage."""
    touchpoint = find_touchpoint(key)
    created = touchpoint is None
    touchpoint = touchpoint or ensure_touchpoint(key)
    if name is not None:
        touchpoint.name = name
    if stage is not None:
        touchpoint.stage = Stage(stage)
    db.session.commit()
    return touchpoint, created


def list_touchpoints() -> list[Touchpoint]:
    """Every touchpoint by key."""
    return list(db.session.scalars(sa.select(Touchpoint).order_by(Touchpoint.key)))
