"""The dashboard: per survey, the score over the last 30 days with its n and interval against the 30 days before,
the response rate, the weekly trend, the distribution of scores, the score per touchpoint and journey stage, and the
root causes of the alerts resolved there; the open alerts. Every chart point, bar and table row links to the
responses behind it (responses.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import render_template, url_for

from surveyd.console import bp, charts
from surveyd.console.access import ALL, allowed
from surveyd.models import Survey, utcnow
from surveyd.services.alerts import handling
from surveyd.services.design import surveys
from surveyd.services.health import checks as health_checks
from surveyd.services.insight import drilldown, goals
from surveyd.services.insight.funnel import funnel
from surveyd.services.insight.journey import journey
from surveyd.services.insight.metrics import survey_metrics
from surveyd.services.insight.root_causes import root_causes
from surveyd.services.runtime import settings

DAYS = 30
WEEKS = 12  # the trend charts' reach


@dataclass
class Section:
    """One survey's figures on the dashboard, with the time range they count and their drill-down links."""

    survey: Survey
    overall: dict[str, Any]
    previous: dict[str, Any]  # the same figure over the DAYS before: period over period
    rate: drilldown.ResponseRate | None
    series: list[dict[str, Any]]
    trend: charts.Trend | None
    distribution: charts.Distribution
    touchpoints: list[dict[str, Any]]
    stages: list[dict[str, Any]]
    funnel: dict[str, Any]  # how far the period's invitations got, per channel
    causes: list[dict[str, Any]]  # root causes of the alerts resolved in the period, per touchpoint
    since: str
    weeks_since: str
    until: str  # the moment the figures were counted: a link keeps showing what its figure counted

    @property
    def change(self) -> float | None:
        """The score minus the previous period's; None when either has no answers."""
        now, before = self.overall["score"], self.previous["score"]
        return None if now is None or before is None else now - before

    @property
    def clear_change(self) -> bool:
        """Whether the two periods' 95% intervals miss each other: a change beyond chance."""
        a, b = self.overall["interval"], self.previous["interval"]
        return bool(a and b and (a["high"] < b["low"] or a["low"] > b["high"]))

    def link(self, since: str | None = None, **narrowing: Any) -> str:
        """The drill-down of this survey's answers in the figure's time range, narrowed."""
        return url_for("console.response_list", survey=self.survey.id, since=since or self.since, until=self.until,
                       **{k: (drilldown.NONE if v is None else v) for k, v in narrowing.items()})


@bp.route("/")
@allowed(*ALL)
def home():
    """Scores at a glance."""
    now = utcnow()
    since = now - timedelta(days=DAYS)
    weeks = now - timedelta(weeks=WEEKS)
    rates = drilldown.response_rates(since, now)
    sections = []
    for survey in surveys.list_surveys():
        recent = survey_metrics(survey, since, now, None, "touchpoint")
        series = survey_metrics(survey, weeks, now, "week", None)["series"]
        before = survey_metrics(survey, since - timedelta(days=DAYS), since, None, None)["overall"]
        sections.append(Section(
            survey=survey, overall=recent["overall"], previous=before, rate=rates.get(survey.id), series=series,
            trend=charts.trend(survey.kind.value, series) if series else None,
            distribution=charts.distribution(survey.kind.value, recent["overall"]["distribution"]),
            touchpoints=recent["groups"], stages=survey_metrics(survey, since, now, None, "stage")["groups"],
            funnel=funnel(survey, since, now, "channel"),
            causes=root_causes(since, now, "touchpoint", survey.id)["groups"],
            since=since.isoformat(), weeks_since=weeks.isoformat(), until=now.isoformat()))
    open_alerts = handling.list_alerts(status="open", limit=200)
    overdue = handling.list_alerts(overdue=True, limit=200, now=now)
    return render_template("console/home.html", sections=sections, days=DAYS, open_alerts=len(open_alerts),
                           overdue=len(overdue), weeks=WEEKS, chart=charts, goals=goals.goals_with_progress(),
                           stages=journey(since, now, settings().journey_stages)["stages"],
                           names={section.survey.id: section.survey.name for section in sections},
                           problems=[health_checks.describe(issue) for issue in health_checks.open_issues()])
