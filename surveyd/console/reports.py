"""The periodic report in the console: pick a month, read it, download it as a PDF. The same tables as the
email (services/insight/report_view.py), in the signed-in user's language."""
from __future__ import annotations

from flask import Response, abort, redirect, render_template, request, url_for

import survey_templates
from surveyd.console import bp
from surveyd.console.access import ALL, allowed
from surveyd.console.i18n import locale_code
from surveyd.models import utcnow
from surveyd.services.errors import Invalid
from surveyd.services.insight import periods, reporting
from surveyd.services.insight.report_pdf import render
from surveyd.services.runtime import settings

MONTHS_LISTED = 12


def month_name(period: periods.Period) -> str:
    """"October 2026" in the user's language and digits."""
    locale = locale_code()
    months = survey_templates.translate(locale, "report.months").split("|")
    return survey_templates.locale_info(locale).localize_digits(f"{months[period.start.month - 1]} {period.start.year}")


def _period_or_404(label: str) -> periods.Period:
    """The month a URL names; 404 for anything that is not YYYY-MM or lies after the current month."""
    zone = settings().default_timezone
    try:
        period = periods.parse_month(label, zone)
    except Invalid:
        abort(404)
    if period.start > periods.current("month", utcnow(), zone).start:
        abort(404)
    return period


@bp.route("/reports")
@allowed(*ALL)
def report_list():
    """The last twelve months' reports, and a month picker for older ones."""
    wanted = (request.args.get("month") or "").strip()[:20]
    if wanted:
        return redirect(url_for("console.report_page", label=wanted))
    zone = settings().default_timezone
    month = periods.current("month", utcnow(), zone)
    months = []
    for _ in range(MONTHS_LISTED):
        months.append(month)
        month = month.previous()
    current = settings()
    return render_template("console/reports.html", months=months, this_month=months[0],
                           recipients=len(current.report_to), cadence=current.report_cadence,
                           month_name=month_name)


@bp.route("/reports/<label>")
@allowed(*ALL)
def report_page(label: str):
    """One month's report, as the email says it."""
    period = _period_or_404(label)
    view = reporting.view(period, locale_code())
    partial = period.until > utcnow()
    return render_template("console/report.html", view=view, period=period, partial=partial,
                           previous=period.previous(), following=_following(period), month_name=month_name)


@bp.route("/reports/<label>.pdf")
@allowed(*ALL)
def report_pdf(label: str):
    """One month's report as a PDF download."""
    period = _period_or_404(label)
    body = render(reporting.view(period, locale_code()))
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="surveyd-report-{period.label}.pdf"',
        "Cache-Control": "private, no-store",
    })


def _following(period: periods.Period) -> periods.Period | None:
    """The next month, unless it has not begun."""
    after = periods.month_period(period.end, period.zone)
    return after if after.since <= utcnow() else None
