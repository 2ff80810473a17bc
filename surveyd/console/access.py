"""Who is signed in to the console and what their role reaches: Flask-Login sessions, role checks, safe `next`."""
from __future__ import annotations

from functools import wraps
from typing import Callable
from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask_login import UserMixin, current_user

from surveyd.extensions import login_manager
from surveyd.models import Role, User
from surveyd.services.access import sign_in

ALL = (Role.ADMIN, Role.DESIGNER, Role.AGENT)


class Staff(UserMixin):
    """The signed-in staff user as Flask-Login sees them; the session holds id and password epoch only."""

    def __init__(self, user: User):
        self.user, self.role = user, user.role

    def get_id(self) -> str:
        """The session token: it stops naming this user when their password changes or they are deactivated."""
        return sign_in.session_token(self.user)


@login_manager.user_loader
def load_staff(token: str) -> Staff | None:
    """The staff user a session still names."""
    user = sign_in.user_for_session(token)
    return Staff(user) if user else None


@login_manager.unauthorized_handler
def to_sign_in():
    """No session: off to the sign-in page, coming back to this page afterwards (not to a form's action)."""
    if request.method not in ("GET", "HEAD"):
        return redirect(url_for("console.login"))
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another host; the dashboard otherwise."""
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")
                and "\\" not in target and not any(ord(c) < 32 for c in target)):
            return target
    return url_for("console.home")


def allowed(*roles: Role, read: tuple[Role, ...] = ()) -> Callable:
    """A view for these roles; `read` roles may also GET it. No session: sign in; another role: 403."""

    def decorate(view: Callable) -> Callable:
        view.console_roles = (tuple(roles), tuple(read))  # read by the tests that walk every route

        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role in roles or (request.method in ("GET", "HEAD") and current_user.role in read):
                return view(*args, **kwargs)
            return render_template("console/error.html", title_key="errors.forbidden_title",
                                   body_key="errors.forbidden_body"), 403

        return guarded

    return decorate


def actor() -> str:
    """How the signed-in user appears in activity logs."""
    return f"user:{current_user.user.email}"
