"""Per request: an id (the caller's X-Request-Id when it is sane, else a new one, echoed in the response) and who
the request acts for, so the audit log can say who changed what, from where, in which request."""
from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

from surveyd.services.audit import trail

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id() -> str:
    """This request's id, made on first use."""
    if "request_id" not in g:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def _actor() -> trail.Actor | None:
    key_id = g.get("api_key_id")
    if key_id is not None:
        name = f"api_key:{key_id}"
    elif request.blueprint == "console":
        from flask_login import current_user

        if not current_user.is_authenticated:
            return None
        name = f"user:{current_user.user.id}:{current_user.user.email}"
    else:
        return None
    return trail.Actor(name, origin=(request.remote_addr or "")[:64] or None, request_id=request_id())


def init_request_context(app: Flask) -> None:
    """Register the hooks; after the API's key check, so an API request's actor is its key."""
    trail.listen()

    @app.before_request
    def _act():
        actor = _actor()
        if actor is not None:
            g.audit_token = trail.begin(actor)

    @app.teardown_request
    def _done(_error=None):
        token = g.pop("audit_token", None)
        if token is not None:
            try:
                trail.end(token)
            except ValueError:  # torn down in another context (a streamed response): that context ends anyway
                pass

    @app.after_request
    def _echo(response):
        response.headers["X-Request-Id"] = request_id()
        return response
