"""The JSON API under /api/v1: API-key auth, the error envelope, one blueprint per noun."""
from __future__ import annotations

from flask import Flask, request

from surveyd.api.envelope import envelope
from surveyd.json_limits import MAX_DEPTH, non_standard, too_deep
from surveyd.services.errors import ServiceError

MAX_BODY_BYTES = 1024 * 1024


def register_api(app: Flask) -> None:
    """Register every API blueprint with flask-smorest and map service errors to the envelope."""
    from surveyd.api import (
        alerts,
        audit,
        contacts,
        dispatches,
        events,
        funnel,
        goals,
        health,
        journey,
        responses,
        surveys,
        themes,
        triggers,
        webhook_endpoints,
    )
    from surveyd.api.auth import require_api_key
    from surveyd.extensions import api

    # Flask's defaults already hold MAX_CONTENT_LENGTH = None, so setdefault would never set the limit.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    modules = (surveys, triggers, contacts, events, dispatches, responses, journey, funnel, goals, themes, alerts,
               webhook_endpoints, audit, health)
    for module in modules:
        api.register_blueprint(module.blp, url_prefix="/api/v1")
    api_blueprints = {module.blp.name for module in modules}

    @app.before_request
    def _authenticate():
        # Blueprints are module-level objects shared by every app, so the check hangs on the app.
        if request.blueprint in api_blueprints:
            return require_api_key()
        return None

    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError):
        return envelope(error.status, error.message, error.code, error.fields)

    @app.before_request
    def _json_only():
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH"):
            if request.content_length != 0 and not request.is_json:
                return envelope(400, "Send the body as JSON with Content-Type: application/json.")
            # webargs parses the body with the json module itself: the depth is checked here, once, before it.
            body = request.get_data(cache=True)
            if too_deep(body):
                return envelope(400, f"The JSON body nests deeper than {MAX_DEPTH} levels.")
            if non_standard(body):
                return envelope(400, "NaN and Infinity are not JSON; send numbers or null.")
        return None
