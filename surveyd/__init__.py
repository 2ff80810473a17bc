"""surveyd: ask customers how it went, on their channel, and act on the answer."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping

from flask import Flask, request

from surveyd.config import load_settings


def create_app(env: Mapping[str, str] | None = None, demo: bool = False, instance_path: str | None = None) -> Flask:
    """Build the app from the environment (or the given mapping)."""
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    settings = load_settings(Path(app.instance_path), env, demo=demo)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(settings.flask_config())
    from surveyd.json_limits import BoundedJSONProvider

    app.json = BoundedJSONProvider(app)  # a body nested past its depth is a 400, never a RecursionError
    from surveyd.url_ids import RowId

    app.url_map.converters["int"] = RowId  # before any route: an id past 64 bits is a 404
    app.json.sort_keys = False
    register_extensions(app)
    register_blueprints(app)
    from surveyd.text_limits import refuse_nul

    refuse_nul(app)  # after the API's key check, so a request without a key is still a 401
    register_error_handlers(app)
    register_commands(app)
    register_logging(app)
    from surveyd.request_context import init_request_context

    init_request_context(app)  # after the API's key check, so an API request acts for its key
    return app


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension objects."""
    from surveyd.database import init_database
    from surveyd.extensions import api, db, migrate

    db.init_app(app)
    migrations = Path(__file__).resolve().parent.parent / "migrations"
    migrate.init_app(app, db, directory=str(migrations), render_as_batch=True, compare_type=True)
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key from `surveyd api-key create`."}
    }}, "security": [{"apiKey": []}]})
    init_database(app, db)
    from surveyd.database import on_transaction_end
    from surveyd.services.alerts import feed, notifying
    from surveyd.services.answers import wording
    from surveyd.services.integrations import events as webhook_events
    from surveyd.services.integrations import publishing

    # Agent notifications and webhook deliveries written by a transaction go to this process's sender the
    # moment it commits.
    on_transaction_end(db, notifying.after_commit, notifying.after_rollback)
    on_transaction_end(db, feed.after_commit, feed.after_rollback)  # open inboxes hear of new alerts
    on_transaction_end(db, publishing.after_commit, publishing.after_rollback)
    on_transaction_end(db, wording.after_commit, wording.after_rollback)  # comments are read off the answer's path
    # Dispatch failures and opt-outs become webhook events through listeners: dispatch and audience may not
    # import integrations, which sits below them.
    webhook_events.listen()
    from surveyd.tasks import celery_init_app

    celery_init_app(app)


def register_blueprints(app: Flask) -> None:
    """Mount the API, the operations routes, the respondent pages, the sandbox and the staff console."""
    from surveyd.api import register_api
    from surveyd.ops import bp as ops_bp
    from surveyd.web.respond import bp as respond_bp
    from surveyd.web.sandbox import bp as sandbox_bp
    from surveyd.web.unsubscribe import bp as unsubscribe_bp
    from surveyd.webhooks.telegram import bp as telegram_bp
    from surveyd.webhooks.twilio import bp as twilio_bp

    register_api(app)
    app.register_blueprint(ops_bp)
    app.register_blueprint(twilio_bp)
    app.register_blueprint(telegram_bp)
    app.register_blueprint(respond_bp)
    app.register_blueprint(unsubscribe_bp)
    if app.config["SURVEYD"].sandbox:
        app.register_blueprint(sandbox_bp)
    from surveyd.console import init_console

    init_console(app)


def register_error_handlers(app: Flask) -> None:
    """Lock timeouts become 503 with Retry-After; API paths always answer in the JSON envelope."""
    from werkzeug.exceptions import HTTPException

    from surveyd.api.envelope import envelope
    from surveyd.database import TROUBLE, database_trouble, rollback_or_discard
    from surveyd.extensions import db

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            if request.path.startswith("/api/"):
                return envelope(error.code or 500, error.description or error.name)
            return error
        rollback_or_discard(db.session)
        trouble = database_trouble(error)
        if trouble:
            route = request.url_rule.rule if request.url_rule else request.path
            app.logger.warning("database %s: %s %s answered 503", trouble, request.method, route)
            message, retry_after = TROUBLE[trouble]
            if request.path.startswith("/api/"):
                response, status = envelope(503, message)
            else:
                response, status = "The service is busy; please try again in a moment.", 503
            return response, status, {"Retry-After": str(retry_after)}
        route = request.url_rule.rule if request.url_rule else request.path  # the pattern, not the ids and tokens
        app.logger.exception("unhandled error on %s %s", request.method, route)
        if request.path.startswith("/api/"):
            return envelope(500, "Internal error.", code="internal")
        return "Internal error.", 500


def register_commands(app: Flask) -> None:
    """Attach the staff and key commands to `flask` too (the `surveyd` script wraps them)."""
    from surveyd.cli import register_flask_commands

    register_flask_commands(app)


def register_logging(app: Flask) -> None:
    """Per-request lines on the surveyd.request logger; no secret or customer's address in any log line."""
    from surveyd import log_privacy
    from surveyd.request_log import init_request_log

    settings = app.config["SURVEYD"]
    log_privacy.remember_secrets([settings.secret_key, settings.twilio_auth_token, settings.telegram_bot_token,
                                  settings.smtp_password])
    log_privacy.install()
    init_request_log(app)
    logging.getLogger("surveyd").setLevel(logging.INFO)
