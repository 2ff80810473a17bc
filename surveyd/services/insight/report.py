"""The periodic report's figures: each survey's score against the period before, response rates, the journey,
goals, alerts raised and resolved (and how fast), their root causes, and how comments were worded. Read only;
`report_view` turns these into words and `reporting` sends them."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Alert, Answer, Response, Survey
from surveyd.services.insight import journey as journeys
from surveyd.services.insight import root_causes as causes
from surveyd.services.insight import themes as comment_themes
from surveyd.services.insight.drilldown import response_rates
from surveyd.services.insight.metrics import survey_metrics
from surveyd.services.insight.periods import Period

SENTIMENTS = ("negative", "neutral", "positive")
TOP_CAUSES = 5
TOP_THEMES = 5


@dataclass(frozen=True)
class SurveyFigure:
    """One survey's score in the period and the one before, with the invitations sent and answered."""

    survey_id: int
    name: str
    kind: str
    current: dict[str, Any]
    previous: dict[str, Any]
    sent: int
    answered: int
    previous_sent: int
    previous_answered: int

    @property
    def change(self) -> float | None:
        """This period's score minus the last one's; None when either has no answers."""
        now, before = self.current["score"], self.previous["score"]
        return None if now is None or before is None else round(now - before, 2)

    @property
    def clear_change(self) -> bool:
        """Whether the two periods' 95% intervals miss each other: a change beyond chance."""
        a, b = self.current["interval"], self.previous["interval"]
        return bool(a and b and (a["high"] < b["low"] or a["low"] > b["high"]))

    @property
    def rate(self) -> float | None:
        """Answered invitations over invitations sent in the period."""
        return self.answered / self.sent if self.sent else None


@dataclass(frozen=True)
class AlertFigures:
    """Alerts raised and resolved in the period, how fast, and what was still open at its end."""

    raised: int
    resolved: int
    open_at_end: int
    median_minutes_to_resolve: float | None
    resolved_in_time: int  # resolved before their due time (alerts without one count as in time)
    previous_raised: int
    previous_resolved: int


@dataclass(frozen=True)
class Report:
    """Everything the report shows for one period."""

    period: Period
    previous: Period
    surveys: list[SurveyFigure]
    journey: list[dict[str, Any]]
    goals: list[dict[str, Any]]
    alerts: AlertFigures
    root_causes: list[dict[str, Any]]
    sentiment: dict[str, int]
    themes: list[dict[str, Any]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


def build(period: Period, journey_order: tuple[str, ...], goals: list[dict[str, Any]] | None = None) -> Report:
    """The report for one period; `goals` are the goals' progress as of the period's end, when there are any."""
    previous = period.previous()
    rates, previous_rates = response_rates(period.since, period.until), response_rates(previous.since, previous.until)
    surveys = []
    for survey in db.session.scalars(sa.select(Survey).order_by(Survey.id)):
        now = survey_metrics(survey, period.since, period.until, None, None)["overall"]
        before = survey_metrics(survey, previous.since, previous.until, None, None)["overall"]
        rate, last = rates.get(survey.id), previous_rates.get(survey.id)
        if not now["n"] and not before["n"] and not rate:
            continue  # a survey nobody was asked in either period has nothing to report
        surveys.append(SurveyFigure(
            survey.id, survey.name, survey.kind.value, now, before,
            rate.sent if rate else 0, rate.answered if rate else 0,
            last.sent if last else 0, last.answered if last else 0,
        ))
    stages = journeys.journey(period.since, period.until, journey_order)["stages"]
    rolled = causes.root_causes(period.since, period.until, "touchpoint")
    return Report(
        period=period, previous=previous, surveys=surveys, journey=stages, goals=goals or [],
        alerts=_alerts(period, previous), root_causes=_top_causes(rolled), sentiment=_sentiment(period),
        themes=_top_themes(period),
    )


def _alerts(period: Period, previous: Period) -> AlertFigures:
    def count(column, lo, hi) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(Alert).where(column >= lo, column < hi))

    resolved = db.session.execute(
        sa.select(Alert.created_at, Alert.resolved_at, Alert.due_at)
        .where(Alert.resolved_at >= period.since, Alert.resolved_at < period.until)
    ).all()
    minutes = [(done - raised).total_seconds() / 60 for raised, done, _ in resolved]
    open_at_end = db.session.scalar(
        sa.select(sa.func.count()).select_from(Alert)
        .where(Alert.created_at < period.until,
               sa.or_(Alert.resolved_at.is_(None), Alert.resolved_at >= period.until)))
    return AlertFigures(
        raised=count(Alert.created_at, period.since, period.until),
        resolved=len(resolved),
        open_at_end=open_at_end,
        median_minutes_to_resolve=round(statistics.median(minutes), 1) if minutes else None,
        resolved_in_time=sum(1 for _, done, due in resolved if due is None or done <= due),
        previous_raised=count(Alert.created_at, previous.since, previous.until),
        previous_resolved=count(Alert.resolved_at, previous.since, previous.until),
    )


def _top_causes(rolled: dict[str, Any]) -> list[dict[str, Any]]:
    """The most frequent root causes, each with the touchpoint where it came up most."""
    where: dict[str, tuple[str, int]] = {}
    for group in rolled.get("groups", []):
        for cause in group["causes"]:
            best = where.get(cause["root_cause"])
            if best is None or cause["count"] > best[1]:
                where[cause["root_cause"]] = (group["key"], cause["count"])
    return [{**cause, "touchpoint": where.get(cause["root_cause"], ("-", 0))[0]}
            for cause in rolled["causes"][:TOP_CAUSES]]


def _top_themes(period: Period) -> list[dict[str, Any]]:
    """The month's largest themes with one example each; themes are found per month, so a week's report has none."""
    if period.cadence != "month":
        return []
    return comment_themes.summary(period, examples=1)["themes"][:TOP_THEMES]


def _sentiment(period: Period) -> dict[str, int]:
    query = (
        sa.select(Answer.sentiment, sa.func.count())
        .join(Response, Response.id == Answer.response_id)
        .where(Answer.sentiment.is_not(None), Response.created_at >= period.since, Response.created_at < period.until)
        .group_by(Answer.sentiment)
    )
    counts = dict(db.session.execute(query).all())
    return {label: counts.get(label, 0) for label in SENTIMENTS}


def as_of(period: Period) -> date:
    """The day goals are judged on in a period's report: its last day."""
    return date.fromordinal(period.end.toordinal() - 1)
