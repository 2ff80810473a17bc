"""The survey designer: the list of surveys, a new survey from a built-in template, the editor (questions, every
locale's texts side by side, the alert rule and its targets, the email wording, a live preview) and the version
history. Saving goes through the same schema and service as `PATCH /surveys/{id}`."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

import survey_templates
from surveyd.console import bp, previews
from surveyd.console import survey_form as form
from surveyd.console.access import allowed
from surveyd.console.forms import ButtonForm
from surveyd.models import Role
from surveyd.schemas.survey import (
    SurveyCreateSchema,
    SurveyPatchSchema,
    shown_alert_rule,
)
from surveyd.services.design import survey_definitions as definitions
from surveyd.services.design import surveys, versions
from surveyd.services.design.scales import BANDS as SCORE_BANDS
from surveyd.services.design.scales import SCALES
from surveyd.services.errors import Invalid

DESIGNERS = (Role.ADMIN, Role.DESIGNER)


def _locales() -> list:
    return [survey_templates.locale_info(code) for code in survey_templates.available_locales()]


@bp.route("/surveys")
@allowed(*DESIGNERS)
def survey_list():
    """Every survey with its kind, current version, languages and answers."""
    return render_template("console/surveys.html", surveys=surveys.list_surveys(),
                           answers=versions.answers_per_survey(), locales={i.code: i for i in _locales()})


def _templates() -> list[tuple[str, str]]:
    """(template id, kind) of every built-in template."""
    return [(tid, survey_templates.builtin_survey(tid, ["en"])["kind"]) for tid in survey_templates.builtin_templates()]


@bp.route("/surveys/new", methods=["GET", "POST"])
@allowed(*DESIGNERS)
def survey_new():
    """A new survey from a built-in template, in the languages chosen."""
    templates = _templates()
    chosen = {"name": "", "template": "", "locales": list(survey_templates.available_locales())}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        chosen = {"name": (request.form.get("name") or "").strip()[:200], "template": request.form.get("template", ""),
                  "locales": [c for c in survey_templates.available_locales() if c in request.form.getlist("locales")]}
        kinds = dict(templates)
        if not ButtonForm().validate_on_submit():
            errors["form"] = ["errors.expired"]
        if chosen["template"] not in kinds:
            errors[f"template-{templates[0][0]}"] = ["designer.template_missing"]
        if not chosen["locales"]:
            errors[f"locales-{survey_templates.available_locales()[0]}"] = ["designer.locales_missing"]
        if not errors:
            data = {"kind": kinds[chosen["template"]], "template": chosen["template"], "locales": chosen["locales"],
                    "name": chosen["name"] or survey_templates.builtin_survey(chosen["template"], ["en"])["name"]}
            try:
                survey = surveys.create_survey(SurveyCreateSchema().load(data))
            except (ValidationError, Invalid) as refused:
                messages = form.flatten(refused.messages) if isinstance(refused, ValidationError) else refused.fields
                errors = {"name" if path == "name" else "form": m for path, m in messages.items()}
            else:
                flash("designer.created_notice")
                return redirect(url_for("console.survey_page", survey_id=survey.id))
    return render_template("console/survey_new.html", templates=templates, chosen=chosen, errors=errors,
                           locales=_locales()), 400 if errors else 200


@bp.route("/surveys/<int:survey_id>", methods=["GET", "POST"])
@allowed(*DESIGNERS)
def survey_page(survey_id: int):
    """The editor. Buttons other than Save change the page, not the survey, so it all works without JavaScript."""
    survey = previews.survey_or_404(survey_id)
    if request.method == "GET":
        return _render(survey, form.from_version(survey, survey.latest))
    draft = form.read(request.form, survey)
    if not ButtonForm().validate_on_submit():
        return _render(survey, draft, {"form": ["errors.expired"]}, status=400)
    action = request.form.get("action", "save")
    if not form.ACTION.match(action):
        return _render(survey, draft, {"form": ["designer.action_unknown"]}, status=400)
    if action in ("save",):
        return _save(survey, draft)
    focus = form.apply(action, draft)
    notice = None if action == "preview" else "designer.unsaved"
    return _render(survey, draft, focus=focus, notice=notice, preview_draft=True)


def _save(survey, draft):
    data, errors = form.to_data(draft, survey)
    if errors:
        return _render(survey, draft, errors, status=400)
    try:
        loaded = SurveyPatchSchema().load(data)
        before = survey.current_version
        surveys.update_survey(survey.id, loaded)
    except ValidationError as refused:
        return _render(survey, draft, form.by_field(form.flatten(refused.messages), draft), status=400)
    except Invalid as refused:
        return _render(survey, draft, form.by_field(refused.fields or {"form": [refused.message]}, draft), status=400)
    saved = surveys.get_survey(survey.id)
    flash("designer.saved_new_version" if saved.current_version != before else "designer.saved_same")
    return redirect(url_for("console.survey_page", survey_id=survey.id))


def _render(survey, draft, errors: dict | None = None, status: int = 200, focus: str | None = None,
            notice: str | None = None, preview_draft: bool = False):
    locale = request.values.get("preview-locale") or draft["locales"][0]
    locale = locale if locale in draft["locales"] else draft["locales"][0]
    return render_template(
        "console/survey.html", survey=survey, draft=draft, errors=errors or {}, focus=focus, notice=notice,
        locales=_locales(), info={i.code: i for i in _locales()}, bands=definitions.BANDS,
        band_ranges=_band_ranges(survey.kind.value), channels=tuple(form.ADDRESS), scale=definitions.scale_of(
            survey.kind.value), preview=_preview(survey, draft, locale, preview_draft), preview_locale=locale,
    ), status


def _band_ranges(kind: str) -> dict[str, tuple[int, int]]:
    """Which scores make each band, for the band checkboxes' labels: {"negative": (0, 6), ...}."""
    low, high = SCALES[kind]
    negative, positive = SCORE_BANDS[kind]
    return {"negative": (low, negative), "neutral": (negative + 1, positive - 1), "positive": (positive, high)}


def _preview(survey, draft, locale: str, of_draft: bool):
    """The preview panel: of the draft when the page shows unsaved changes, else of the saved version; a note
    instead while the draft's texts cannot make a message."""
    if not of_draft:
        return previews.preview_panel(survey, None, locale)
    try:
        definitions.check_locales(draft["locales"])
        definitions.check_questions(draft["questions"], draft["locales"])
        email = definitions.check_email({p: t for p, t in draft["email"].items() if t} or None, draft["locales"])
    except Invalid:
        return None
    content = {"locales": draft["locales"], "questions": form._strip(draft["questions"]),
               "alert": survey.latest.alert, "email": email}
    return previews.preview_panel(survey, content, locale)


@bp.route("/surveys/<int:survey_id>/draft-preview", methods=["POST"])
@allowed(*DESIGNERS)
def draft_preview(survey_id: int):
    """The preview panel alone, of the form as it stands: what designer.js swaps in while staff type."""
    survey = previews.survey_or_404(survey_id)
    if not ButtonForm().validate_on_submit():
        return render_template("console/preview_unavailable.html", reason="errors.expired"), 400
    draft = form.read(request.form, survey)
    locale = request.values.get("preview-locale") or draft["locales"][0]
    panel = _preview(survey, draft, locale if locale in draft["locales"] else draft["locales"][0], True)
    if panel is None:
        return render_template("console/preview_unavailable.html", reason="designer.preview_waits")
    return panel


@bp.route("/surveys/<int:survey_id>/versions")
@allowed(*DESIGNERS)
def survey_versions(survey_id: int):
    """Every version with the answers it saw; what changed between two of them (`a`, `b`; by default the newest
    against the one before)."""
    survey = previews.survey_or_404(survey_id)
    numbers = [v.number for v in survey.versions]
    newest = numbers[-1]
    a, b = request.args.get("a", ""), request.args.get("b", "")
    a = int(a) if a.isdigit() else max(newest - 1, 1)
    b = int(b) if b.isdigit() else newest
    if a not in numbers or b not in numbers:
        abort(404)
    changes = versions.compare(_shown(versions.get_version(survey, a)), _shown(versions.get_version(survey, b)))
    return render_template("console/survey_versions.html", survey=survey, answers=versions.answers_per_version(survey),
                           a=a, b=b, changes=changes, info={i.code: i for i in _locales()})


def _shown(version) -> dict:
    """A version's content with secret target URLs masked, as the API shows them."""
    shown = versions.content(version)
    return {**shown, "alert": shown_alert_rule(shown["alert"])}
