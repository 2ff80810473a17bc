"""Comment themes in the console: what a month's comments talk about, as a model grouped them and staff corrected
them. Everyone reads; designers and admins find themes, rename, merge, and move a comment to another theme."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for

from surveyd.console import bp
from surveyd.console.access import ALL, allowed
from surveyd.console.forms import ButtonForm
from surveyd.console.reports import month_name
from surveyd.models import Role, utcnow
from surveyd.models.base import LARGEST_ID
from surveyd.services.design import surveys
from surveyd.services.errors import Conflict, Invalid, NotFound, ServiceError
from surveyd.services.insight import periods, themes
from surveyd.services.runtime import settings

EDITORS = (Role.ADMIN, Role.DESIGNER)
PAGE = 50


def _this_month() -> periods.Period:
    return periods.current("month", utcnow(), settings().default_timezone)


def _month_or_404(label: str | None) -> periods.Period:
    """The month a URL names, the current one when it names none; 404 for a malformed or future month."""
    if not label:
        return _this_month()
    try:
        period = periods.parse_month(label.strip()[:20], settings().default_timezone)
    except Invalid:
        abort(404)
    if period.start > _this_month().start:
        abort(404)
    return period


def _theme_or_404(theme_id: int):
    if theme_id > LARGEST_ID:
        abort(404)
    try:
        return themes.get_theme(theme_id)
    except NotFound:
        abort(404)


def _survey_id() -> int | None:
    raw = (request.args.get("survey") or "").strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= LARGEST_ID else None


def _list_page(period: periods.Period, errors: dict | None = None, status: int = 200, done: dict | None = None):
    survey_id = _survey_id()
    summary = themes.summary(period, survey_id)
    following = periods.month_period(period.end, period.zone)
    return render_template(
        "console/themes.html", summary=summary, period=period, previous=period.previous(),
        following=following if following.start <= _this_month().start else None, month_name=month_name,
        surveys=surveys.list_surveys(), survey_id=survey_id, errors=errors or {}, done=done), status


@bp.route("/themes")
@allowed(*ALL)
def theme_list():
    """A month's themes, the largest first, with their words, size, confidence, mood and example comments."""
    return _list_page(_month_or_404(request.args.get("month")))


@bp.route("/themes/build", methods=["POST"])
@allowed(*EDITORS)
def theme_build():
    """Find the month's themes (or place its new comments), or start over when `fresh` is ticked."""
    period = _month_or_404(request.form.get("month"))
    if not ButtonForm().validate_on_submit():
        return _list_page(period, {"form": ["errors.expired"]}, 400)
    fresh = request.form.get("fresh") == "yes"
    done = themes.build(period, fresh=fresh)
    return _list_page(period, done=done)


def _theme_page(theme, errors: dict | None = None, status: int = 200):
    try:
        offset = max(0, min(int(request.args.get("offset", 0)), 10**9))
    except ValueError:
        offset = 0
    period = periods.parse_month(themes.describe(theme)["period"], settings().default_timezone)
    others = [item for item in themes.summary(period, examples=0)["themes"] if item["id"] != theme.id]
    return render_template(
        "console/theme.html", theme=themes.describe(theme), comments=themes.comments_of(theme.id, PAGE, offset),
        offset=offset, page=PAGE, others=others, period=period, month_name=month_name,
        surveys={survey.id: survey.name for survey in surveys.list_surveys()}, errors=errors or {}), status


@bp.route("/themes/<int:theme_id>")
@allowed(*ALL)
def theme_page(theme_id: int):
    """One theme: its words and every comment in it, with where the model or staff put it."""
    theme = _theme_or_404(theme_id)
    if theme.merged_into_id:
        return redirect(url_for("console.theme_page", theme_id=theme.merged_into_id))
    return _theme_page(theme)


def _refused(theme, error: ServiceError):
    return _theme_page(theme, {error_field(error): [error.message]}, 409 if isinstance(error, Conflict) else 422)


def error_field(error: ServiceError) -> str:
    """The form field an error points at, when the service named one that is on the page."""
    named = next(iter(error.fields or {}), "form")
    return named if named in ("name", "into") else "form"


@bp.route("/themes/<int:theme_id>/rename", methods=["POST"])
@allowed(*EDITORS)
def theme_rename(theme_id: int):
    """Name a theme; a blank name gives back the model's words."""
    theme = _theme_or_404(theme_id)
    if not ButtonForm().validate_on_submit():
        return _theme_page(theme, {"form": ["errors.expired"]}, 400)
    try:
        themes.rename(theme.id, request.form.get("name"))
    except (Invalid, Conflict) as error:
        return _refused(theme, error)
    return redirect(url_for("console.theme_page", theme_id=theme.id))


@bp.route("/themes/<int:theme_id>/merge", methods=["POST"])
@allowed(*EDITORS)
def theme_merge(theme_id: int):
    """Fold this theme into another of its month."""
    theme = _theme_or_404(theme_id)
    if not ButtonForm().validate_on_submit():
        return _theme_page(theme, {"form": ["errors.expired"]}, 400)
    raw = (request.form.get("into") or "").strip()
    if not raw.isdigit() or not 0 < int(raw) <= LARGEST_ID:
        return _theme_page(theme, {"into": ["themes.pick_theme"]}, 422)
    try:
        into = themes.merge(theme.id, int(raw))
    except NotFound:
        return _theme_page(theme, {"into": ["themes.pick_theme"]}, 422)
    except (Invalid, Conflict) as error:
        return _refused(theme, error)
    return redirect(url_for("console.theme_page", theme_id=into.id))


@bp.route("/themes/<int:theme_id>/comments/<int:answer_id>", methods=["POST"])
@allowed(*EDITORS)
def theme_move(theme_id: int, answer_id: int):
    """Move one comment of this theme to another theme of its month, or to none."""
    theme = _theme_or_404(theme_id)
    if answer_id > LARGEST_ID:
        abort(404)
    if not ButtonForm().validate_on_submit():
        return _theme_page(theme, {"form": ["errors.expired"]}, 400)
    raw = (request.form.get("theme") or "").strip()
    if raw != "none" and (not raw.isdigit() or not 0 < int(raw) <= LARGEST_ID):
        return _theme_page(theme, {"form": ["themes.pick_theme"]}, 422)
    try:
        themes.assign(answer_id, None if raw == "none" else int(raw))
    except NotFound:
        abort(404)
    except (Invalid, Conflict) as error:
        return _refused(theme, error)
    return redirect(url_for("console.theme_page", theme_id=theme.id, offset=request.args.get("offset", 0)))
