"""Triggers in the console: the list with pause and resume, a form to create or change one (channel order moved
with buttons, conditions added and removed, every field explained), and the "what would happen" check. Saving goes
through the same schemas and services as `POST /triggers` and `PATCH /triggers/{id}`."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError

from surveyd.console import bp
from surveyd.console import trigger_form as form
from surveyd.console.access import allowed
from surveyd.console.forms import ButtonForm
from surveyd.console.i18n import number
from surveyd.console.survey_form import flatten
from surveyd.models import Role, utcnow
from surveyd.schemas.common import CHANNELS
from surveyd.schemas.trigger import TriggerCreateSchema, TriggerPatchSchema
from surveyd.services.design import surveys, touchpoints, triggers
from surveyd.services.dispatch import what_if
from surveyd.services.errors import Invalid, NotFound
from surveyd.services.runtime import settings

DESIGNERS = (Role.ADMIN, Role.DESIGNER)


def _trigger_or_404(trigger_id: int):
    try:
        return triggers.get_trigger(trigger_id)
    except NotFound:
        abort(404)


@bp.route("/triggers")
@allowed(*DESIGNERS)
def trigger_list():
    """Every trigger: touchpoint, survey, channels in order, timing, active or paused."""
    return render_template("console/triggers.html", triggers=triggers.list_triggers(), button=ButtonForm())


@bp.route("/triggers/<int:trigger_id>/pause", methods=["POST"])
@allowed(*DESIGNERS)
def trigger_pause(trigger_id: int):
    """Pause (enabled=0) or resume (enabled=1) a trigger; events from now on follow."""
    trigger = _trigger_or_404(trigger_id)
    wanted = request.form.get("enabled")
    if not ButtonForm().validate_on_submit() or wanted not in ("0", "1"):
        return render_template("console/triggers.html", triggers=triggers.list_triggers(), button=ButtonForm(),
                               errors={"form": ["errors.expired" if wanted in ("0", "1") else "triggers.pause_bad"]}), 400
    triggers.update_trigger(trigger.id, {"enabled": wanted == "1"})
    flash("triggers.resumed_notice" if wanted == "1" else "triggers.paused_notice")
    return redirect(url_for("console.trigger_list"))


@bp.route("/triggers/new", methods=["GET", "POST"])
@allowed(*DESIGNERS)
def trigger_new():
    """A new trigger."""
    return _edit(None)


@bp.route("/triggers/<int:trigger_id>", methods=["GET", "POST"])
@allowed(*DESIGNERS)
def trigger_page(trigger_id: int):
    """Change a trigger."""
    return _edit(_trigger_or_404(trigger_id))


def _edit(trigger):
    if request.method == "GET":
        return _render(trigger, form.from_trigger(trigger))
    draft = form.read(request.form)
    if not ButtonForm().validate_on_submit():
        return _render(trigger, draft, {"form": ["errors.expired"]}, status=400)
    action = request.form.get("action", "save")
    if not form.ACTION.match(action):
        return _render(trigger, draft, {"form": ["triggers.action_unknown"]}, status=400)
    if action != "save":
        return _render(trigger, draft, focus=form.apply(action, draft), notice="triggers.unsaved")
    data, errors = form.to_data(draft)
    if errors:
        return _render(trigger, draft, errors, status=400)
    try:
        loaded = (TriggerPatchSchema() if trigger else TriggerCreateSchema()).load(data)
        saved = triggers.update_trigger(trigger.id, loaded) if trigger else triggers.create_trigger(loaded)
    except ValidationError as refused:
        return _render(trigger, draft, _placed(flatten(refused.messages, dict_entries=False)), status=400)
    except (Invalid, NotFound) as refused:
        placed = _placed(refused.fields) if refused.fields else {
            "survey_id" if isinstance(refused, NotFound) else "form": [refused.message]}
        return _render(trigger, draft, placed, status=400)
    flash("triggers.saved_notice" if trigger else "triggers.created_notice")
    return redirect(url_for("console.trigger_list") + f"#trigger-{saved.id}")


def _placed(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    placed: dict[str, list[str]] = {}
    for path, messages in errors.items():
        placed.setdefault(form.field_id(path), []).extend(messages)
    return placed


def _render(trigger, draft, errors: dict | None = None, status: int = 200, focus: str | None = None,
            notice: str | None = None):
    return render_template(
        "console/trigger.html", trigger=trigger, draft=draft, errors=errors or {}, focus=focus, notice=notice,
        surveys=surveys.list_surveys(), touchpoints=touchpoints.list_touchpoints(), channels=CHANNELS,
        operators=form.operators(), default_throttle=settings().throttle_days,
        default_expiry_days=number(settings().token_ttl_seconds / 86400,
                                   0 if settings().token_ttl_seconds % 86400 == 0 else 1),
    ), status


def _lines(text: str, name: str, errors: dict) -> dict:
    """key=value lines as a dict; values read as JSON when they are numbers, true, false or null."""
    found = {}
    for line in text.splitlines()[:100]:
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            errors.setdefault(name, []).append("triggers.check_line_bad")
            break
        found[key.strip()[:100]] = form.typed_value(value.strip(), "equals")
    return found


@bp.route("/triggers/check")
@allowed(*DESIGNERS)
def trigger_check():
    """What would happen: pick a touchpoint and a contact (or type one), see the plan of each trigger. Reads only,
    so it is a GET: the result has an address to share."""
    args = request.args
    chosen = {key: (args.get(key) or "").strip()[:2000] for key in (
        "touchpoint", "contact", "name", "email", "phone", "telegram_chat_id", "locale", "timezone",
        "contact_attributes", "attributes", "at")}
    errors: dict[str, list[str]] = {}
    outcomes, at, who = None, None, None
    if args.get("run"):
        if not chosen["touchpoint"]:
            errors["touchpoint"] = ["triggers.check_touchpoint_missing"]
        attributes = _lines(chosen["attributes"], "attributes", errors)
        contact_attributes = _lines(chosen["contact_attributes"], "contact_attributes", errors)
        at = utcnow()
        if chosen["at"]:
            try:
                at = datetime.fromisoformat(chosen["at"])
                at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
            except ValueError:
                errors["at"] = ["triggers.check_time_bad"]
        if chosen["contact"]:
            try:
                who = what_if.stored_contact(chosen["contact"])
            except NotFound:
                errors["contact"] = ["triggers.check_contact_unknown"]
        else:
            who = what_if.typed_contact(chosen, contact_attributes)
        if not errors:
            try:
                outcomes = what_if.check(chosen["touchpoint"], who, attributes, at)
            except NotFound:
                errors["touchpoint"] = ["triggers.check_no_trigger"]
    return render_template("console/trigger_check.html", chosen=chosen, errors=errors, outcomes=outcomes, at=at,
                           who=who, touchpoints=touchpoints.list_touchpoints()), 400 if errors else 200
