"""The responses behind a figure: every chart point, bar and table row of the dashboard links here with its
filters, and the page counts exactly what the figure counted (services/insight/drilldown.py)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import abort, render_template, request, url_for

from surveyd.console import bp
from surveyd.console.access import ALL, allowed
from surveyd.downloads import export_download
from surveyd.models import Channel, Role, Stage
from surveyd.services.design import surveys, touchpoints
from surveyd.services.design.scales import SCALES
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.insight import drilldown, export
from surveyd.services.insight.metrics import INTERVALS

FILTERS = ("since", "until", "score", "band", "touchpoint", "stage", "channel", "locale", "period", "interval")
# The service's refusals, per field, in the console's words (its own messages are English sentences).
REFUSALS = {"score": "responses.invalid_score", "band": "responses.invalid_band", "stage": "responses.invalid_stage",
            "channel": "responses.invalid_channel", "period": "responses.invalid_period",
            "until": "responses.invalid_until"}


def _moment(raw: str, name: str, errors: dict) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = ["responses.bad_time"]
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _filters(text: dict[str, str], errors: dict) -> drilldown.Filters:
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
            errors["period"] = ["responses.bad_day"]
    return drilldown.Filters(
        since=_moment(text["since"], "since", errors), until=_moment(text["until"], "until", errors), score=score,
        band=text["band"] or None, touchpoint=text["touchpoint"] or None, stage=text["stage"] or None,
        channel=text["channel"] or None, locale=text["locale"] or None, period=period,
        interval=text["interval"] or None)


def _refusals(survey, filters: drilldown.Filters, errors: dict) -> None:
    """Add what the service refuses to what could not be read, so the page names every problem at once."""
    try:
        drilldown.check(survey, filters)
    except Invalid as refused:
        for field in refused.fields:
            errors.setdefault(field, [REFUSALS.get(field, "responses.invalid_filters")])


def _survey_of_request():
    """The survey the query's `survey` names; 404 for none, a non-number or an unknown id."""
    raw = request.args.get("survey", "")
    if not raw.isdigit():
        abort(404)
    try:
        return surveys.get_survey(int(raw))
    except NotFound:
        abort(404)


@bp.route("/responses")
@allowed(*ALL)
def response_list():
    """The answers of one survey behind a figure, newest first, 50 to a page."""
    survey = _survey_of_request()
    text = {name: (request.args.get(name) or "").strip()[:200] for name in FILTERS}
    errors: dict[str, list[str]] = {}
    filters = _filters(text, errors)
    _refusals(survey, filters, errors)
    page = request.args.get("page", "1")
    found = None if errors else drilldown.responses(survey, filters, int(page) if page.isdigit() else 1)
    kept = {name: value for name, value in text.items() if value}
    pages = {n: url_for("console.response_list", survey=survey.id, **kept, page=n) for n in
             ((found.page - 1, found.page + 1) if found else ())}
    low, high = SCALES[survey.kind.value]
    return render_template(
        "console/responses.html", survey=survey, found=found, errors=errors, text=text, pages=pages,
        comments=drilldown.comments, scale=(low, high), touchpoints=touchpoints.list_touchpoints(),
        channels=[c.value for c in Channel], stages=[s.value for s in Stage], intervals=INTERVALS, none=drilldown.NONE,
    ), 400 if errors else 200


@bp.route("/responses/export")
@allowed(Role.ADMIN, Role.DESIGNER)
def response_export():
    """Every answer of one survey in the time range given (since, until), as CSV or XLSX: the API's export."""
    survey = _survey_of_request()
    errors: dict[str, list[str]] = {}
    since = _moment((request.args.get("since") or "").strip()[:200], "since", errors)
    until = _moment((request.args.get("until") or "").strip()[:200], "until", errors)
    kind = request.args.get("format", "csv")
    if errors or kind not in export.FORMATS:
        abort(400)
    try:
        table = export.table(survey, since, until)
    except Invalid:
        abort(400)
    return export_download(table, kind, f"survey-{survey.id}-responses")
