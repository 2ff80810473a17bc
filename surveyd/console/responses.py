"""The responses behind a figure: every chart point, bar and table row of the dashboard links here with its
filters, and the page counts exactly what the figure counted (services/insight/drilldown.py)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import abort, render_template, request, url_for

from surveyd.console import bp
from surveyd.console.access import ALL, allowed
from surveyd.services.design import surveys
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.insight import drilldown

FILTERS = ("since", "until", "score", "band", "touchpoint", "stage", "channel", "locale", "period", "interval")


def _moment(raw: str, name: str, errors: dict) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = ["responses.bad_time"]
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _filters(args, errors: dict) -> drilldown.Filters:
    text = {name: (args.get(name) or "").strip()[:200] for name in FILTERS}
    score = None
    if text["score"]:
        if text["score"].lstrip("-").isdigit():
            score = int(text["score"])
        else:
            errors["score"] = ["responses.bad_score"]
    period = None
    if text["period"]:
        try:
            period = date.fromisoformat(text["period"])
        except ValueError:
            errors["period"] = ["responses.bad_time"]
    return drilldown.Filters(
        since=_moment(text["since"], "since", errors), until=_moment(text["until"], "until", errors), score=score,
        band=text["band"] or None, touchpoint=text["touchpoint"] or None, stage=text["stage"] or None,
        channel=text["channel"] or None, locale=text["locale"] or None, period=period,
        interval=text["interval"] or None)


@bp.route("/responses")
@allowed(*ALL)
def response_list():
    """The answers of one survey behind a figure, newest first, 50 to a page."""
    raw = request.args.get("survey", "")
    if not raw.isdigit():
        abort(404)
    try:
        survey = surveys.get_survey(int(raw))
    except NotFound:
        abort(404)
    errors: dict[str, list[str]] = {}
    filters = _filters(request.args, errors)
    page = request.args.get("page", "1")
    found = None
    if not errors:
        try:
            found = drilldown.responses(survey, filters, int(page) if page.isdigit() else 1)
        except Invalid as refused:
            errors = refused.fields
    kept = {name: request.args.get(name) for name in ("survey", *FILTERS) if request.args.get(name)}
    pages = {n: url_for("console.response_list", **kept, page=n) for n in
             ((found.page - 1, found.page + 1) if found else ())}
    return render_template("console/responses.html", survey=survey, filters=filters, found=found, errors=errors,
                           kept=kept, pages=pages), 400 if errors else 200
