"""Signing in and out, and changing one's own password."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from surveyd.console import bp
from surveyd.console.access import ALL, Staff, allowed, safe_next
from surveyd.console.forms import ButtonForm, PasswordForm, SignInForm
from surveyd.services.access import sign_in, users
from surveyd.services.errors import Invalid


def _expired(form) -> bool:
    return bool(form.errors.get("csrf_token"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; success goes to `next` on this site, or the dashboard."""
    form, error = SignInForm(), None
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target)
    if request.method == "POST":
        if not form.validate_on_submit():
            error = "errors.expired" if _expired(form) else "login.missing"
        else:
            try:
                user = sign_in.sign_in(form.email.data, form.password.data, request.remote_addr or "")
            except sign_in.Refused as refused:
                error = ("login.throttled", refused.retry_after_minutes) if refused.reason == "throttled" else (
                    "login.wrong")
            else:
                login_user(Staff(user))
                return redirect(target)
    status = 429 if isinstance(error, tuple) else (400 if error else 200)
    return render_template("console/login.html", form=form, error=error, next=request.values.get("next", "")), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (a POST with the CSRF token, so no link or image can sign anyone out)."""
    form = ButtonForm()
    if current_user.is_authenticated and form.validate_on_submit():
        logout_user()
    return redirect(url_for("console.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
@allowed(*ALL)
def password():
    """Change one's own password; every other session of the user ends."""
    form, errors, done = PasswordForm(), {}, False
    if request.method == "POST":
        if not form.validate_on_submit():
            errors = {"form": ["errors.expired"]}
        else:
            try:
                user = sign_in.change_password(current_user.user.id, form.current.data, form.new.data,
                                               form.confirm.data)
            except Invalid as invalid:
                errors = invalid.fields
            else:
                login_user(Staff(user))  # this session follows the new password
                done = True
    return render_template("console/password.html", form=form, errors=errors, done=done), 400 if errors else 200


@bp.route("/language", methods=["POST"])
@allowed(*ALL)
def language():
    """Keep the console in the chosen language for this user, or follow the browser again."""
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("console.password"))
    try:
        users.set_locale(current_user.user.id, request.form.get("locale", ""))
    except Invalid:
        return render_template("console/password.html", form=PasswordForm(), errors={"locale": ["errors.language"]},
                               done=False), 400
    return redirect(url_for("console.password"))
