"""The answers behind a figure: the drill-down from a dashboard's chart point, bar or table row to the responses it
counts, and the response rate (invitations sent, and how many of them were answered). Read only.

The drill-down narrows `metrics.counted`, the very query the figures count, and reads a period in the same time
zone, so a figure's n and the number of responses behind it cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from surveyd.extensions import db
from surveyd.models import (
    Alert,
    Channel,
    Dispatch,
    DispatchPurpose,
    Response,
    Stage,
    Survey,
    Touchpoint,
)
from surveyd.services.design.scales import BANDS, SCALES
from surveyd.services.errors import Invalid
from surveyd.services.insight.local_days import local_midnight
from surveyd.services.insight.metrics import INTERVALS, counted, zone_of

PAGE = 50
NONE = "-"  # the group of answers without a touchpoint (or stage): the figures show it as a group of its own


@dataclass(frozen=True)
class Filters:
    """Which answers: the figure's time range, and at most one narrowing of each kind."""

    since: datetime | None = None
    until: datetime | None = None
    score: int | None = None
    band: str | None = None
    touchpoint: str | None = None  # a key, or NONE
    stage: str | None = None  # a stage, or NONE
    channel: str | None = None
    locale: str | None = None
    period: date | None = None  # with interval: the period starting that local day
    interval: str | None = None
    tz: str | None = None  # the zone of the period's days; None: the app's default, as the figures use


@dataclass(frozen=True)
class Page:
    """One page of the answers behind a figure, newest first, with the alert each raised."""

    total: int
    responses: list[Response]
    alerts: dict[int, int]  # response id -> alert id
    touchpoints: dict[int, str]  # touchpoint id -> key
    page: int
    pages: int


def period_end(start: date, interval: str) -> date:
    """The first day after the period that starts on `start`."""
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def check(survey: Survey, filters: Filters) -> None:
    """Invalid when a filter cannot name any answer of this survey's kind."""
    low, high = SCALES[survey.kind.value]
    errors: dict[str, list[str]] = {}
    if filters.score is not None and not low <= filters.score <= high:
        errors["score"] = [f"Must be from {low} to {high}."]
    if filters.band is not None and filters.band not in ("negative", "neutral", "positive"):
        errors["band"] = ["Must be negative, neutral or positive."]
    if filters.stage not in (None, NONE) and filters.stage not in {s.value for s in Stage}:
        errors["stage"] = [f"Must be one of {', '.join(s.value for s in Stage)}."]
    if filters.channel is not None and filters.channel not in {c.value for c in Channel}:
        errors["channel"] = [f"Must be one of {', '.join(c.value for c in Channel)}."]
    if (filters.period is None) != (filters.interval is None) or (filters.interval and filters.interval not in INTERVALS):
        errors["period"] = ["A period needs its interval (day, week or month), and an interval its period."]
    if filters.since and filters.until and filters.since >= filters.until:
        errors["until"] = ["Must be after since."]
    try:
        zone_of(filters.tz)
    except Invalid as error:
        errors.update(error.fields)
    if errors:
        raise Invalid("these filters name no answers", errors)


def _narrowed(survey: Survey, filters: Filters, *columns) -> sa.Select:
    query = counted(survey, filters.since, filters.until, *columns)
    if filters.touchpoint is not None or filters.stage is not None:
        query = query.outerjoin(Touchpoint, Touchpoint.id == Response.touchpoint_id)
    if filters.score is not None:
        query = query.where(Response.score == filters.score)
    if filters.band is not None:
        low, high = SCALES[survey.kind.value]
        negative, positive = BANDS[survey.kind.value]
        bounds = {"negative": (low, negative), "neutral": (negative + 1, positive - 1), "positive": (positive, high)}
        query = query.where(Response.score.between(*bounds[filters.band]))
    if filters.touchpoint is not None:
        query = query.where(Touchpoint.key.is_(None) if filters.touchpoint == NONE else
                            Touchpoint.key == filters.touchpoint)
    if filters.stage is not None:
        query = query.where(Touchpoint.stage.is_(None) if filters.stage == NONE else
                            Touchpoint.stage == Stage(filters.stage))
    if filters.channel is not None:
        query = query.where(Response.channel == Channel(filters.channel))
    if filters.locale is not None:
        query = query.where(Response.locale == filters.locale)
    if filters.period is not None and filters.interval:
        zone = zone_of(filters.tz)
        query = query.where(Response.created_at >= local_midnight(filters.period, zone),
                            Response.created_at < local_midnight(period_end(filters.period, filters.interval), zone))
    return query


def responses(survey: Survey, filters: Filters, page: int = 1) -> Page:
    """The answers behind a figure, PAGE at a time (two queries and the page's rows)."""
    check(survey, filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(_narrowed(survey, filters, Response.id).subquery()))
    pages = max(1, -(-total // PAGE))
    page = min(max(page, 1), pages)
    ids = list(db.session.scalars(_narrowed(survey, filters, Response.id)
                                  .order_by(Response.created_at.desc(), Response.id.desc())
                                  .limit(PAGE).offset((page - 1) * PAGE)))
    rows = list(db.session.scalars(
        sa.select(Response).where(Response.id.in_(ids))
        .options(selectinload(Response.answers), selectinload(Response.contact), selectinload(Response.survey_version))
    )) if ids else []
    rows.sort(key=lambda r: ids.index(r.id))
    alerts = {response_id: alert_id for response_id, alert_id in db.session.execute(
        sa.select(Alert.response_id, Alert.id).where(Alert.response_id.in_(ids)))} if ids else {}
    used = {r.touchpoint_id for r in rows if r.touchpoint_id is not None}
    touchpoints = {tp_id: key for tp_id, key in db.session.execute(
        sa.select(Touchpoint.id, Touchpoint.key).where(Touchpoint.id.in_(used)))} if used else {}
    return Page(total=total, responses=rows, alerts=alerts, touchpoints=touchpoints, page=page, pages=pages)


def comments(response: Response) -> list[str]:
    """What the customer said beyond the score: free text as written, a choice as its option's label in the
    language they answered in (the option's id when the version has no such option any more)."""
    version = response.survey_version
    questions = {q.get("id"): q for q in version.questions}
    said = []
    for answer in response.answers:
        if not answer.value_text:
            continue
        question = questions.get(answer.question_id) or {}
        if question.get("type") != "choice":
            said.append(answer.value_text)
            continue
        option = next((o for o in question.get("options", []) if o.get("id") == answer.value_text), None)
        labels = (option or {}).get("label") or {}
        said.append(labels.get(response.locale) or labels.get(version.default_locale) or answer.value_text)
    return said


@dataclass(frozen=True)
class ResponseRate:
    """Invitations sent in the period, how many of them were answered (with a score), and the rate."""

    sent: int
    answered: int

    @property
    def rate(self) -> float | None:
        return self.answered / self.sent * 100 if self.sent else None


def response_rates(since: datetime | None, until: datetime | None = None) -> dict[int, ResponseRate]:
    """Per survey id, the invitations sent in [since, until) and how many were answered (one grouped query)."""
    answered = sa.func.count(Response.id).filter(Response.score.is_not(None))
    query = (
        sa.select(Dispatch.survey_id, sa.func.count(Dispatch.id), answered)
        .outerjoin(Response, Response.dispatch_id == Dispatch.id)
        .where(Dispatch.purpose == DispatchPurpose.INVITATION, Dispatch.sent_at.is_not(None))
        .group_by(Dispatch.survey_id)
    )
    if since:
        query = query.where(Dispatch.sent_at >= since)
    if until:
        query = query.where(Dispatch.sent_at < until)
    return {survey_id: ResponseRate(sent, done) for survey_id, sent, done in db.session.execute(query)}
