"""Admin only: staff users (invite, role, deactivate) and API keys (create, shown once; revoke). And the page an
invited user sets their password on."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_login import login_user

from surveyd.console import bp
from surveyd.console.access import Staff, allowed
from surveyd.console.forms import ButtonForm, PasswordForm
from surveyd.models import Role
from surveyd.services.access import api_keys, users
from surveyd.services.errors import Conflict, Invalid, NotFound
from surveyd.services.runtime import public_url

ROLES = tuple(role.value for role in Role)


def _users_page(errors: dict | None = None, invited: tuple | None = None, status: int = 200):
    return render_template("console/users.html", users=users.list_users(), roles=ROLES, errors=errors or {},
                           invited=invited, form=request.form), status


@bp.route("/users", methods=["GET", "POST"])
@allowed(Role.ADMIN)
def user_list():
    """Everyone who signs in; POST invites a new user and shows their one-time set-password link once."""
    if request.method == "GET":
        return _users_page()
    if not ButtonForm().validate_on_submit():
        return _users_page({"form": ["errors.expired"]}, status=400)
    try:
        user, token = users.invite_user(request.form.get("email", ""), request.form.get("role", ""))
    except (Invalid, Conflict) as error:
        fields = getattr(error, "fields", None) or {"email": [str(error)]}
        return _users_page(fields, status=409 if isinstance(error, Conflict) else 400)
    link = f"{public_url()}{url_for('console.set_password', token=token)}"
    return _users_page(invited=(user.email, link), status=201)


@bp.route("/users/<int:user_id>", methods=["POST"])
@allowed(Role.ADMIN)
def user_change(user_id: int):
    """Change a user's role, or deactivate (their sessions end at once) or reactivate them."""
    if not ButtonForm().validate_on_submit():
        return _users_page({"form": ["errors.expired"]}, status=400)
    active = {"deactivate": False, "activate": True}.get(request.form.get("action", ""))
    role = request.form.get("role") or None
    try:
        users.change_user(user_id, role=role, active=active)
    except NotFound:
        abort(404)
    except (Invalid, Conflict) as error:
        return _users_page({"form": [str(error)]}, status=409 if isinstance(error, Conflict) else 400)
    return redirect(url_for("console.user_list"))


@bp.route("/api-keys", methods=["GET", "POST"])
@allowed(Role.ADMIN)
def api_key_list():
    """The integrators' keys; POST creates one and shows it this once."""
    created, errors, status = None, {}, 200
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        if not ButtonForm().validate_on_submit():
            errors, status = {"form": ["errors.expired"]}, 400
        elif not 1 <= len(name) <= 100:
            errors, status = {"name": ["keys.name_needed"]}, 400
        else:
            key, raw = api_keys.create_api_key(name)
            created, status = (key.name, raw), 201
    return render_template("console/api_keys.html", keys=api_keys.list_api_keys(), created=created,
                           errors=errors), status


@bp.route("/api-keys/<int:key_id>/revoke", methods=["POST"])
@allowed(Role.ADMIN)
def api_key_revoke(key_id: int):
    """Revoke a key: from now on requests carrying it get 401."""
    if not ButtonForm().validate_on_submit():
        return render_template("console/api_keys.html", keys=api_keys.list_api_keys(), created=None,
                               errors={"form": ["errors.expired"]}), 400
    try:
        api_keys.revoke_api_key(key_id)
    except NotFound:
        abort(404)
    return redirect(url_for("console.api_key_list"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Where an invited user chooses their password (no sign-in: the link is the key, spent by using it)."""
    if users.password_set_user(token) is None:
        return render_template("console/error.html", title_key="password.link_title",
                               body_key="password.link_spent"), 410
    form, errors = PasswordForm(), {}
    if request.method == "POST":
        if not form.validate_on_submit():
            errors = {"form": ["errors.expired"]}
        else:
            try:
                user = users.set_password_with_token(token, form.new.data, form.confirm.data)
            except Invalid as invalid:
                errors = invalid.fields
            else:
                login_user(Staff(user))
                return redirect(url_for("console.home"))
    return render_template("console/set_password.html", errors=errors, token=token), 400 if errors else 200


