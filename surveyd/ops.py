"""Operations routes: liveness and readiness."""
from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from surveyd.database import rollback_or_discard
from surveyd.extensions import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """200 while the process serves; touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """200 when the database (and the broker and Redis, when configured) answers and SQLite's disk has room;
    503 otherwise, naming which."""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready; the reason goes to the log
        current_app.logger.warning("readiness: database check failed: %s", error.__class__.__name__)
        checks["database"] = "unavailable"
    finally:
        rollback_or_discard(db.session)
    storage = _sqlite_storage()
    if storage:
        checks["storage"] = storage
    broker_url = current_app.config["SURVEYD"].broker_url
    if broker_url:
        checks["broker"] = "ok" if _broker_answers(broker_url) else "unavailable"
    redis_url = current_app.config["SURVEYD"].redis_url
    if redis_url:  # rate limits (sends and the API) and the live inbox's fan-out
        checks["redis"] = "ok" if _redis_answers(redis_url) else "unavailable"
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    return response, 200 if ready else 503


FREE_SPACE_FLOOR = 1024 * 1024  # below this, SQLite's next checkpoint or page may not fit


def _sqlite_storage() -> str | None:
    """For SQLite, "ok" or "full" by the free space on the database file's disk (a full disk fails every write
    while SELECT 1 still answers); None for PostgreSQL, whose server watches its own disk."""
    engine = db.engine
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    folder = Path(engine.url.database).resolve().parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError as error:
        current_app.logger.warning("readiness: storage check failed: %s", error.__class__.__name__)
        return "unavailable"
    return "ok" if free >= FREE_SPACE_FLOOR else "full"


def _broker_answers(url: str) -> bool:
    """Whether the Celery broker accepts a connection within two seconds."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2, transport_options={"max_retries": 0}) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception as error:  # any failure means not ready; the reason goes to the log
        current_app.logger.warning("readiness: broker check failed: %s", error.__class__.__name__)
        return False


def _redis_answers(url: str) -> bool:
    """Whether Redis answers PING within two seconds."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError as error:
        current_app.logger.warning("readiness: Redis check failed: %s", error.__class__.__name__)
        return False
