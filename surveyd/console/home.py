"""The dashboard: each survey's score over the last 30 days with its n and interval, and the open alerts."""
from __future__ import annotations

from datetime import timedelta

from flask import render_template

from surveyd.console import bp, charts
from surveyd.console.access import ALL, allowed
from surveyd.models import utcnow
from surveyd.services.alerts import handling
from surveyd.services.design import surveys
from surveyd.services.insight.metrics import survey_metrics

DAYS = 30
WEEKS = 12  # the trend charts' reach


@bp.route("/")
@allowed(*ALL)
def home():
    """Scores at a glance."""
    now = utcnow()
    since = now - timedelta(days=DAYS)
    every = surveys.list_surveys()
    scores = [(survey, survey_metrics(survey, since, None, None, None)["overall"]) for survey in every]
    weeks = now - timedelta(weeks=WEEKS)
    trends = []
    for survey in every:
        series = survey_metrics(survey, weeks, None, "week", None)["series"]
        if series:
            trends.append((survey, series, charts.trend(survey.kind.value, series)))
    open_alerts = handling.list_alerts(status="open", limit=200)
    overdue = handling.list_alerts(overdue=True, limit=200, now=now)
    return render_template("console/home.html", scores=scores, days=DAYS, open_alerts=len(open_alerts),
                           overdue=len(overdue), trends=trends, weeks=WEEKS, chart=charts)
