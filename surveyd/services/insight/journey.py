"""The journey: every survey kind's score rolled up per journey stage (awareness ... support), with n and 95%
interval, so staff see the weakest stage at a glance. Read only; one grouped query."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Response, Survey, Touchpoint
from surveyd.services.errors import Invalid
from surveyd.services.insight import rollups
from surveyd.services.insight.metric_math import summarize_counts
from surveyd.services.insight.metrics import present

KINDS = ("nps", "csat", "ces")


def journey(since: datetime | None, until: datetime | None, order: tuple[str, ...]) -> dict[str, Any]:
    """Per stage in `order`: its touchpoints, and for each survey kind answered there its figure (score, n,
    interval). A stage without answers still shows, with its touchpoints and no figures."""
    if since and until and since >= until:
        raise Invalid("empty time range", {"until": ["Must be after since."]})
    tallies = _rolled(since, until)
    if tallies is None:
        tallies = _counted(since, until)
    keys: dict[str, list[str]] = defaultdict(list)
    for key, stage in db.session.execute(sa.select(Touchpoint.key, Touchpoint.stage).order_by(Touchpoint.key)):
        keys[stage.value].append(key)
    stages = []
    for stage in order:
        entry: dict[str, Any] = {"stage": stage, "touchpoints": keys.get(stage, [])}
        for kind in KINDS:
            if (stage, kind) in tallies:
                entry[kind] = present(summarize_counts(kind, tallies[(stage, kind)]))
        stages.append(entry)
    return {"since": since, "until": until, "stages": stages}


def _rolled(since: datetime | None, until: datetime | None) -> dict[tuple[str, str], Counter] | None:
    """Tallies per (stage, kind) from the score rollups, or None when they cannot serve."""
    kinds = dict(db.session.execute(sa.select(Survey.id, Survey.kind)).all())
    counts = rollups.tallies(sorted(kinds), "touchpoint", since, until, per_day=False)
    if counts is None:
        return None
    stage_of = {str(id_): stage for id_, stage in db.session.execute(sa.select(Touchpoint.id, Touchpoint.stage))}
    tallies: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for (survey_id, _, touchpoint), tally in counts.items():
        stage = stage_of.get(touchpoint)
        if stage is not None:  # answers with no touchpoint belong to no stage
            tallies[(stage.value, kinds[survey_id].value)].update(tally)
    return tallies


def _counted(since: datetime | None, until: datetime | None) -> dict[tuple[str, str], Counter]:
    """Tallies per (stage, kind) counted from the responses."""
    query = (
        sa.select(Touchpoint.stage, Survey.kind, Response.score, sa.func.count())
        .join(Touchpoint, Touchpoint.id == Response.touchpoint_id)
        .join(Survey, Survey.id == Response.survey_id)
        .where(Response.score.is_not(None))
        .group_by(Touchpoint.stage, Survey.kind, Response.score)
    )
    if since:
        query = query.where(Response.created_at >= since)
    if until:
        query = query.where(Response.created_at < until)
    tallies: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for stage, kind, score, count in db.session.execute(query):
        tallies[(stage.value, kind.value)][score] += count
    return tallies

