"""Respondent pages at /s/<token>: work without JavaScript; a GET never records an answer, only when the page
was first opened (see `opening.mark_opened`)."""
from __future__ import annotations

from flask import Blueprint, render_template, request

import survey_templates
from bots.channel import WebhookRejected
from bots.web_link import TOKEN_HEADER, WebLinkChannel
from surveyd.services.answers.opening import mark_opened
from surveyd.services.answers.responding import (
    Progress,
    Stage,
    dispatch_for_token,
    progress,
    record_answer,
)
from surveyd.services.design.scales import SCALES

bp = Blueprint("respond", __name__, template_folder="templates")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def page(template: str, locale: str, status: int = 200, **context):
    """A respondent-facing page in the locale's language and direction, with the strict security headers."""
    info = survey_templates.locale_info(locale)
    html = render_template(
        template,
        locale=info,
        digits=info.localize_digits,
        t=lambda key, **values: survey_templates.translate(locale, key, **values),
        **context,
    )
    return html, status, SECURITY_HEADERS


def _message(locale: str, key: str, status: int):
    t = survey_templates.translate
    return page("respond/message.html", locale, status, heading=t(locale, f"page.{key}_title"), body=t(locale, f"page.{key}_body"))


def render_progress(state: Progress, chosen: int | None = None, notice_key: str | None = None, status: int = 200):
    """The page for where the respondent stands."""
    if state.stage == Stage.UNKNOWN:
        locale = survey_templates.resolve_locale(request.accept_languages.best, list(survey_templates.available_locales()))
        return _message(locale, "not_found", 404)
    locale = state.locale
    if state.stage == Stage.EXPIRED:
        return _message(locale, "expired", 410)
    if state.stage == Stage.COMPLETE:
        return _message(locale, "thanks" if state.changed else "already", 200)
    if state.stage == Stage.FOLLOW_UP:
        notice = survey_templates.translate(locale, notice_key or "page.score_kept")
        return page("respond/follow_up.html", locale, status, questions=state.follow_ups, notice=notice)
    version = state.dispatch.survey_version
    low, high = SCALES[state.dispatch.survey.kind.value]
    error = survey_templates.translate(locale, "page.error_choose") if state.error else None
    return page(
        "respond/score.html", locale, 422 if error else status,
        question=version.scale_question, points=range(low, high + 1), chosen=chosen, error=error,
    )


@bp.get("/s/<token>")
def show(token: str):
    """The survey page; ?score=N (from an email) preselects N. A GET records only the first opening of a dispatch
    that is still open (its opened_at); a HEAD records nothing."""
    state = progress(dispatch_for_token(token))
    if request.method == "GET":
        mark_opened(state)
    chosen = request.args.get("score", type=int)
    return render_progress(state, chosen=chosen)


@bp.post("/s/<token>")
def answer(token: str):
    """Record a posted answer through the web channel's inbound path; repeats change nothing."""
    dispatch = dispatch_for_token(token)
    if dispatch is None:
        return render_progress(Progress(Stage.UNKNOWN))
    try:
        (inbound,) = WebLinkChannel().parse_inbound({TOKEN_HEADER: token}, request.get_data(cache=True))
    except WebhookRejected:
        state = progress(dispatch)
        if state.stage != Stage.OPEN:
            # Answered or closed already: say so rather than asking for a score again.
            return render_progress(state, notice_key="page.already_body")
        return render_progress(Progress(Stage.OPEN, dispatch, error="choose_score"))
    state = record_answer(dispatch, inbound)
    if state.stage == Stage.FOLLOW_UP and not state.changed:
        return render_progress(state, notice_key="page.already_body")
    return render_progress(state)
