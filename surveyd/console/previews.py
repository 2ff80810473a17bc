"""The designer's live preview: what each channel would send in one language (the SMS as a phone bubble with its
segments and cost, the email as rendered, the Telegram message with its buttons, the web page), and "Send me a
test". The email and the web page are shown in frames served here, inert and framable by this site only.

`preview_panel(survey, content, locale)` is the panel the designer includes; a draft's content travels to the
frames signed in their URL, so the frames show exactly what the panel describes without anything being saved.
"""
from __future__ import annotations

from babel.numbers import format_currency
from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup

import survey_templates
from surveyd.console import bp
from surveyd.console.access import allowed, safe_next
from surveyd.console.forms import ButtonForm
from surveyd.console.i18n import locale_code, t
from surveyd.models import Channel, Role
from surveyd.services.answers.responding import Progress, Stage, follow_ups_for
from surveyd.services.design import surveys
from surveyd.services.design.scales import BANDS, SCALES
from surveyd.services.dispatch import previews
from surveyd.services.errors import Invalid, NotFound
from surveyd.web import respond

DESIGNERS = (Role.ADMIN, Role.DESIGNER)
# A frame's own policy: its inline styles (an email's, the survey page's) and nothing else; no script, no form
# that posts, no navigation of this page; shown only inside the console's own pages.
FRAMED = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'; "
          "frame-ancestors 'self'; sandbox")
DRAFT_SALT = "surveyd.console.preview-draft"
DRAFT_MAX_AGE = 24 * 3600
STEPS = ("negative", "neutral", "positive")


def preview_panel(survey, content, locale: str, version: int | None = None, *, locale_links: bool = False,
                  offer_test: bool | None = None, errors: dict | None = None, chosen: str | None = None) -> Markup:
    """The panel for a survey's version (the current one unless `version` is given) or, when `content` is given
    (locales, questions, email, as a version holds them), for that unsaved draft. A test can be sent from it only
    where the page holds no unsaved changes: by default, on a GET of a saved version."""
    try:
        shown = previews.preview(survey, content, locale, version)
    except Invalid:
        return Markup(render_template("console/preview_panel.html", shown=None))
    query = {"locale": shown.locale}
    if content is not None:
        query["draft"] = _sign_draft(survey.id, previews.draft_content(content, shown.locale))
    elif version is not None:
        query["version"] = version
    if offer_test is None:
        offer_test = content is None and request.method in ("GET", "HEAD")
    return Markup(render_template(
        "console/preview_panel.html", survey=survey, shown=shown, query=query, version=version,
        info={code: survey_templates.locale_info(code) for code in shown.locales}, locale_links=locale_links,
        money=money, steps=_steps(survey.kind.value), errors=errors or {},
        test=_test_form(survey.id, shown.locale, version, chosen) if offer_test else None))


def money(amount, currency: str) -> str:
    """An amount with every digit kept (a segment costs fractions of a cent), in the user's language and digits."""
    code = locale_code()
    text = format_currency(amount, currency, locale=code, decimal_quantization=False)
    return survey_templates.locale_info(code).localize_digits(text)


def _steps(kind: str) -> list[tuple[str, int, int]]:
    """(band, lowest, highest score) of the score bands the web page's follow-ups are asked after."""
    low, high = SCALES[kind]
    negative, positive = BANDS[kind]
    ranges = {"negative": (low, negative), "neutral": (negative + 1, positive - 1), "positive": (positive, high)}
    return [(band, *ranges[band]) for band in STEPS if ranges[band][0] <= ranges[band][1]]


def _test_form(survey_id: int, locale: str, version: int | None, chosen: str | None) -> dict:
    """What the "Send me a test" form needs: the user's choices and where to come back to."""
    choices = previews.test_choices(current_user.user)
    if chosen not in choices:
        chosen = next((channel for channel, refused in choices.items() if refused is None), "email")
    back = (request.full_path.rstrip("?") if request.method in ("GET", "HEAD")
            else url_for("console.survey_preview", survey_id=survey_id, locale=locale, version=version))
    return {"choices": choices, "chosen": chosen, "next": back, "email": current_user.user.email,
            "sandbox_url": url_for("sandbox.inbox") if "sandbox.inbox" in current_app.view_functions else None}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=DRAFT_SALT)


def _sign_draft(survey_id: int, content: dict) -> str:
    return _serializer().dumps({"s": survey_id, "c": content})


def _draft(token: str, survey_id: int) -> dict:
    """The draft a frame's URL carries, signed by the panel for this survey; 400 for anything else."""
    try:
        payload = _serializer().loads(token, max_age=DRAFT_MAX_AGE)
    except BadSignature:
        abort(400)
    if not isinstance(payload, dict) or payload.get("s") != survey_id:
        abort(400)
    return payload["c"]


def survey_or_404(survey_id: int):
    """The survey, or the console's 404 page."""
    try:
        return surveys.get_survey(survey_id)
    except NotFound:
        abort(404)


def _number(raw: str | None) -> int | None:
    """A version number given in a query or form; 400 for one that is not a number."""
    if raw in (None, ""):
        return None
    if not raw.isdigit() or len(raw) > 9:
        abort(400)
    return int(raw)


def _framed_source(survey):
    """The version (a draft's, a numbered or the current one) and locale a frame shows, from its query."""
    draft = request.args.get("draft")
    try:
        version = previews.version_of(survey, _draft(draft, survey.id) if draft else None,
                                      _number(request.args.get("version")))
    except NotFound:
        abort(404)
    except Invalid:
        abort(400)
    locale = request.args.get("locale", "")
    if locale not in version.locales:
        abort(400)
    return version, locale


def _framed(html: str):
    """A response the console's pages may frame, and nothing else may: the console's security headers keep a
    policy a view sets, and answer its `frame-ancestors 'self'` with X-Frame-Options SAMEORIGIN."""
    response = make_response(html)
    response.headers["Content-Security-Policy"] = FRAMED
    return response


@bp.route("/surveys/<int:survey_id>/preview")
@allowed(*DESIGNERS)
def survey_preview(survey_id: int):
    """The preview panel alone, of the current version (or `version`), in `locale`."""
    survey = survey_or_404(survey_id)
    version = _number(request.args.get("version"))
    return _page(survey, request.args.get("locale"), version)


def _page(survey, locale: str | None, version: int | None, errors: dict | None = None, status: int = 200,
          chosen: str | None = None):
    try:
        shown = previews.version_of(survey, None, version)
    except NotFound:
        abort(404)
    if locale not in shown.locales:
        if locale and not errors:
            errors, status = {"form": ["previews.locale_unknown"]}, 400
        locale = shown.default_locale
    panel = preview_panel(survey, None, locale, version, locale_links=True, offer_test=True, errors=errors,
                          chosen=chosen)
    return render_template("console/preview_page.html", survey=survey, panel=panel, errors=errors or {}), status


@bp.route("/surveys/<int:survey_id>/preview/email")
@allowed(*DESIGNERS)
def survey_preview_email(survey_id: int):
    """The email's HTML as a mail client gets it, for the panel's frame."""
    survey = survey_or_404(survey_id)
    version, locale = _framed_source(survey)
    return _framed(previews.render(previews.sample_dispatch(survey, version, locale, Channel.EMAIL)).html)


@bp.route("/surveys/<int:survey_id>/preview/web")
@allowed(*DESIGNERS)
def survey_preview_web(survey_id: int):
    """The survey page as the customer sees it (`after=negative|neutral|positive`: the page after such a score),
    rendered by the survey page's own code, for the panel's frame; its form posts nowhere."""
    survey = survey_or_404(survey_id)
    version, locale = _framed_source(survey)
    dispatch = previews.sample_dispatch(survey, version, locale, Channel.WEB)
    step = request.args.get("after")
    steps = {band: low for band, low, _ in _steps(survey.kind.value)}
    if step and step not in steps:
        abort(400)
    state = Progress(Stage.OPEN, dispatch)
    if step:
        questions = follow_ups_for(dispatch, steps[step])
        state = Progress(Stage.FOLLOW_UP, dispatch, follow_ups=questions) if questions else \
            Progress(Stage.COMPLETE, dispatch, changed=True)
    html, _, _ = respond.render_progress(state)  # the respondent page's own renderer: the preview is that page
    return _framed(html)


@bp.route("/surveys/<int:survey_id>/test", methods=["POST"])
@allowed(*DESIGNERS)
def survey_test(survey_id: int):
    """Send the invitation to the signed-in user (`channel`: email, telegram or sandbox) in `locale`."""
    survey = survey_or_404(survey_id)
    locale, channel = request.form.get("locale", ""), request.form.get("channel", "")
    version = _number(request.form.get("version"))
    if not ButtonForm().validate_on_submit():
        return _page(survey, locale, version, {"form": ["errors.expired"]}, 400, channel)
    try:
        sent = previews.send_test(survey, locale, channel, current_user.user, t("previews.mark"), version)
    except NotFound:
        abort(404)
    except previews.TooSoon as refused:
        page, status = _page(survey, locale, version, {"form": ["previews.too_soon"]}, 429, channel)
        return page, status, {"Retry-After": str(refused.retry_after)}
    except previews.TestRefused as refused:
        # The summary links to the choice in question; the sandbox's is not on the page when the sandbox is off.
        where = "form" if refused.reason in ("locale", "send_failed") else \
            f"test-channel-{channel if channel in ('email', 'telegram') else 'email'}"
        return _page(survey, locale, version, {where: [f"previews.refused_{refused.reason}"]}, refused.status,
                     channel)
    flash(_sent_notice(sent))
    target = request.form.get("next")
    return redirect(safe_next(target) if target else url_for("console.survey_preview", survey_id=survey.id,
                                                              locale=locale, version=version))


def _sent_notice(sent: previews.TestSent) -> str:
    if all(sandboxed for _, _, sandboxed in sent.deliveries):
        return "previews.sent_sandbox"
    return f"previews.sent_{sent.deliveries[0][0]}"
