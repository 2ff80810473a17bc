"""Triggers: which survey a touchpoint sends, on which channels, when."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Survey, SurveyVersion, Trigger
from surveyd.services import config_cache
from surveyd.services.design.surveys import get_survey
from surveyd.services.design.touchpoints import ensure_touchpoint
from surveyd.services.errors import NotFound


def create_trigger(data: dict[str, Any]) -> Trigger:
    """Store a trigger with every field the contract names, including those acted on later."""
    survey = get_survey(data["survey_id"])
    touchpoint = ensure_touchpoint(data["touchpoint"])
    trigger = Trigger(
        touchpoint=touchpoint,
        survey=survey,
        channels=list(data["channels"]),
        delay_seconds=data.get("delay_seconds", 0),
        quiet_hours=data.get("quiet_hours"),
        throttle_days=data.get("throttle_days"),
        sample_rate=data.get("sample_rate", 1.0),
        conditions=data.get("conditions") or [],
        reminder=data.get("reminder"),
        expire_after_seconds=data.get("expire_after_seconds"),
        enabled=data.get("enabled", True),
    )
    db.session.add(trigger)
    db.session.commit()
    return trigger


FIELDS = ("channels", "delay_seconds", "quiet_hours", "throttle_days", "sample_rate", "conditions", "reminder",
          "expire_after_seconds", "enabled")


def update_trigger(trigger_id: int, data: dict[str, Any]) -> Trigger:
    """Change the fields given (touchpoint and survey included); events from now on are planned the new way, and
    what was already planned stays as it was."""
    trigger = get_trigger(trigger_id)
    if "survey_id" in data:
        trigger.survey = get_survey(data["survey_id"])
    if "touchpoint" in data:
        trigger.touchpoint = ensure_touchpoint(data["touchpoint"])
    for field in FIELDS:
        if field in data:
            value = data[field]
            setattr(trigger, field, list(value) if field in ("channels", "conditions") and value is not None else value)
    if trigger.conditions is None:
        trigger.conditions = []
    db.session.commit()
    return trigger


def get_trigger(trigger_id: int) -> Trigger:
    """One trigger, or NotFound."""
    trigger = db.session.get(Trigger, trigger_id)
    if trigger is None:
        raise NotFound(f"trigger {trigger_id} does not exist")
    return trigger


def list_triggers() -> list[Trigger]:
    """Every trigger, oldest first."""
    return list(db.session.scalars(sa.select(Trigger).order_by(Trigger.id)))


def triggers_for(touchpoint_id: int) -> list[tuple[Trigger, SurveyVersion]]:
    """The enabled triggers of a touchpoint in creation order, each with its survey's current version: read once per
    configuration generation (services/config_cache.py) and copied into this session without a query."""
    kept = config_cache.cached("triggers", touchpoint_id, lambda: _load_triggers(touchpoint_id))
    return [(db.session.merge(trigger, load=False), db.session.merge(version, load=False)) for trigger, version in kept]


def _load_triggers(touchpoint_id: int) -> list[tuple[Trigger, SurveyVersion]]:
    return config_cache.detached_rows(
        sa.select(Trigger, SurveyVersion)
        .join(Trigger.survey)
        .join(SurveyVersion, sa.and_(SurveyVersion.survey_id == Survey.id,
                                     SurveyVersion.number == Survey.current_version))
        .where(Trigger.touchpoint_id == touchpoint_id, Trigger.enabled.is_(True))
        .order_by(Trigger.id))
