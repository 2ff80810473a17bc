"""The outer loop: why scores fall. Root causes of alerts resolved in a time range, rolled up overall and per
touchpoint or journey stage, beside the trend. Read only; one grouped query."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, AlertStatus, Response, Touchpoint
from surveyd.services.errors import Invalid

GROUPS = ("touchpoint", "stage")
NONE = "-"  # alerts on answers without a touchpoint


def root_causes(since: datetime | None, until: datetime | None, group_by: str | None = None,
                survey_id: int | None = None) -> dict[str, Any]:
    """Resolved alerts per root cause, most frequent first; with group_by, the same per touchpoint (or stage),
    groups with the most resolved alerts first. An alert counts in the range it was resolved in."""
    if since and until and since >= until:
        raise Invalid("empty time range", {"until": ["Must be after since."]})
    if group_by not in (None, *GROUPS):
        raise Invalid("unknown group_by", {"group_by": [f"Must be one of {', '.join(GROUPS)}."]})
    query = (
        sa.select(Alert.root_cause, Touchpoint.key, Touchpoint.stage, sa.func.count())
        .join(Response, Response.id == Alert.response_id)
        .outerjoin(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .where(Alert.status == AlertStatus.RESOLVED, Alert.resolved_at.is_not(None))
        .group_by(Alert.root_cause, Touchpoint.key, Touchpoint.stage)
    )
    if since:
        query = query.where(Alert.resolved_at >= since)
    if until:
        query = query.where(Alert.resolved_at < until)
    if survey_id is not None:
        query = query.where(Alert.survey_id == survey_id)
    overall: Counter = Counter()
    grouped: dict[str, Counter] = defaultdict(Counter)
    for cause, key, stage, count in db.session.execute(query):
        cause = cause or "unspecified"
        overall[cause] += count
        if group_by == "touchpoint":
            grouped[key or NONE][cause] += count
        elif group_by == "stage":
            grouped[stage.value if stage else NONE][cause] += count
    result: dict[str, Any] = {"since": since, "until": until, "resolved": sum(overall.values()),
                              "causes": _ranked(overall)}
    if group_by:
        result["group_by"] = group_by
        result["groups"] = [
            {"key": key, "resolved": sum(counts.values()), "causes": _ranked(counts)}
            for key, counts in sorted(grouped.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        ]
    return result


def _ranked(counts: Counter) -> list[dict[str, Any]]:
    total = sum(counts.values())
    return [{"root_cause": cause, "count": count, "share": round(count / total, 4)}
            for cause, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
