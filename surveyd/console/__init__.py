"""The staff console: sign-in, the alert inbox, the dashboard; server-rendered pages that work without JavaScript.

Every page goes through the same services as the API. Security headers: a strict Content-Security-Policy (no
inline script or style), no framing, no caching of pages that show customers' data.
"""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def init_console(app: Flask) -> None:
    """Bind sign-in and languages to the app and mount the console."""
    from flask_wtf.csrf import generate_csrf

    from surveyd.console import (  # noqa: F401  (their routes join the blueprint)
        admin,
        alerts,
        audit,
        auth,
        contacts,
        designer,
        home,
        previews,
        reports,
        responses,
        themes,
        triggers,
    )
    from surveyd.console.i18n import select_locale
    from surveyd.extensions import babel, login_manager

    app.jinja_env.globals["csrf_token"] = generate_csrf  # the sandbox's forms carry one too
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)


@bp.context_processor
def page_helpers() -> dict:
    """What every console template may call: strings, numbers and dates in the user's language, the CSRF token."""
    from flask_wtf.csrf import generate_csrf

    from surveyd.console.i18n import (
        direction,
        label,
        locale_code,
        number,
        say,
        t,
        until,
        when,
    )
    from surveyd.services.design.scales import SCALES

    def score(response) -> str:
        """An answer's score on its scale: "2 / 10"."""
        return t("alert.score_of", score=response.score, top=SCALES[response.survey_version.survey.kind.value][1])

    return {"t": t, "say": say, "number": number, "when": when, "until": until, "label": label, "score": score,
            "direction": direction, "locale_code": locale_code, "csrf_token": generate_csrf}


@bp.after_request
def security_headers(response):
    """CSP and friends on every console response. A view that frames its own page (the designer's email and web
    previews) sets a stricter policy of its own with `frame-ancestors 'self'`, and keeps it."""
    policy = response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "SAMEORIGIN" if "frame-ancestors 'self'" in policy else "DENY"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response
