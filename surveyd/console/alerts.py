"""The alert inbox and one alert: filters, claim, resolve with a root cause, and a reply to the customer."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from surveyd.console import bp, live
from surveyd.console.access import actor, allowed
from surveyd.console.forms import ButtonForm, ReplyForm, ResolveForm
from surveyd.models import AlertStatus, Role, utcnow
from surveyd.services.alerts import handling, replies
from surveyd.services.audience import contacts
from surveyd.services.design import surveys, touchpoints
from surveyd.services.errors import Conflict, Invalid, NotFound
from surveyd.services.runtime import settings

WORKERS, READERS = (Role.ADMIN, Role.AGENT), (Role.DESIGNER,)
STATUSES = tuple(s.value for s in AlertStatus)


def _filters() -> dict:
    args = request.args
    survey = args.get("survey", "")
    return {"status": args.get("status") if args.get("status") in STATUSES else "",
            "survey": int(survey) if survey.isdigit() else None,
            "touchpoint": (args.get("touchpoint") or "").strip()[:100],
            "assignee": (args.get("assignee") or "").strip()[:254],
            "overdue": args.get("overdue") == "1"}


@bp.route("/alerts")
@allowed(*WORKERS, read=READERS)
def alert_list():
    """The inbox, newest first, filtered by status, survey, assignee and overdue."""
    chosen = _filters()
    assignee = current_user.user.email if chosen["assignee"] == "me" else chosen["assignee"]
    rows = handling.list_alerts(status=chosen["status"] or None, survey_id=chosen["survey"], limit=200,
                                assignee=assignee or None, overdue=chosen["overdue"],
                                touchpoint=chosen["touchpoint"] or None)
    query = {key: value for key, value in request.args.items()
             if key in ("status", "survey", "touchpoint", "assignee", "overdue")}
    after = max(a.id for a in rows) if rows else _newest_id()  # the newest this page shows, or the newest there is
    stream_url = url_for("console.alert_stream", after=after, **query)
    return render_template("console/alerts.html", alerts=rows, chosen=chosen, statuses=STATUSES,
                           surveys=surveys.list_surveys(), touchpoints=touchpoints.list_touchpoints(), now=utcnow(),
                           can_work=current_user.role in WORKERS, stream_url=stream_url)


def _newest_id() -> int:
    newest = handling.list_alerts(limit=1)
    return newest[0].id if newest else 0


@bp.route("/alerts/stream")
@allowed(*WORKERS, read=READERS)
def alert_stream():
    """Server-Sent Events for an open inbox: each new alert that passes its filters as a row to insert, each
    changed one as a row to replace. See live.py."""
    chosen = _filters()
    assignee = current_user.user.email if chosen["assignee"] == "me" else chosen["assignee"]
    return live.stream(dict(status=chosen["status"] or None, survey_id=chosen["survey"], assignee=assignee or None,
                            overdue=chosen["overdue"], touchpoint=chosen["touchpoint"] or None))


def _alert_or_404(alert_id: int):
    try:
        return handling.get_alert(alert_id)
    except NotFound:
        abort(404)


@bp.route("/alerts/<int:alert_id>")
@allowed(*WORKERS, read=READERS)
def alert_page(alert_id: int):
    """One alert: the answer, the case, its activity and deliveries, and the customer's whole timeline."""
    alert = _alert_or_404(alert_id)
    return _render_alert(alert)


def _render_alert(alert, errors: dict | None = None, reply: ReplyForm | None = None,
                  resolve: ResolveForm | None = None, status: int = 200):
    resolve = resolve or ResolveForm()
    resolve.root_cause.choices = [("", "")] + [(c, c) for c in settings().root_causes]
    return render_template(
        "console/alert.html", alert=alert, errors=errors or {}, button=ButtonForm(), reply=reply or ReplyForm(),
        resolve=resolve, root_causes=settings().root_causes, timeline=contacts.timeline(alert.contact, 50),
        now=utcnow(), can_work=current_user.role in WORKERS, reply_channel=replies.reply_channel(alert).value,
    ), status


@bp.route("/alerts/<int:alert_id>/claim", methods=["POST"])
@allowed(*WORKERS)
def claim(alert_id: int):
    """Take the alert."""
    alert = _alert_or_404(alert_id)
    if not ButtonForm().validate_on_submit():
        return _render_alert(alert, {"form": ["errors.expired"]}, status=400)
    try:
        handling.claim_alert(alert_id, current_user.user.email, actor())
    except Invalid as invalid:
        return _render_alert(handling.get_alert(alert_id), _keyed(invalid, "alert.claim_refused"), status=409)
    flash("alert.claimed_notice")
    return redirect(url_for("console.alert_page", alert_id=alert_id))


@bp.route("/alerts/<int:alert_id>/resolve", methods=["POST"])
@allowed(*WORKERS)
def resolve(alert_id: int):
    """Close the case with a root cause."""
    alert = _alert_or_404(alert_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        return _render_alert(alert, {"form": ["errors.expired"]}, resolve=form, status=400)
    if form.root_cause.data not in settings().root_causes:
        return _render_alert(alert, {"root_cause": ["alert.root_cause_required"]}, resolve=form, status=400)
    try:
        handling.resolve_alert(alert_id, form.root_cause.data, form.resolution.data, actor())
    except Invalid as invalid:
        return _render_alert(handling.get_alert(alert_id), _keyed(invalid, "alert.resolve_refused"), resolve=form,
                             status=409)
    flash("alert.resolved_notice")
    return redirect(url_for("console.alert_page", alert_id=alert_id))


@bp.route("/alerts/<int:alert_id>/reply", methods=["POST"])
@allowed(*WORKERS)
def reply(alert_id: int):
    """Send the agent's words to the customer on the channel they answered on."""
    alert = _alert_or_404(alert_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        return _render_alert(alert, {"form": ["errors.expired"]}, reply=form, status=400)
    text = (form.text.data or "").strip()
    if not text:
        return _render_alert(alert, {"text": ["alert.reply_empty"]}, reply=form, status=400)
    try:
        replies.send_reply(alert_id, text, actor())
    except Conflict as conflict:
        return _render_alert(handling.get_alert(alert_id), {"text": [str(conflict)]}, reply=form, status=409)
    flash("alert.reply_notice")
    return redirect(url_for("console.alert_page", alert_id=alert_id))


def _keyed(error: Invalid, key: str) -> dict:
    """A service refusal shown under the form: our sentence, the service's detail."""
    return {"form": [key, str(error)]}
