"""Operations routes: liveness and readiness."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify

from surveyd.extensions import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """200 while the process serves; touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """200 when the database answers; 503 otherwise."""
    checks = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready; the reason goes to the log
        current_app.logger.warning("readiness: database check failed: %s", error.__class__.__name__)
        checks["database"] = "unavailable"
    finally:
        db.session.rollback()
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(status="ok" if ready else "unavailable", checks=checks)
    return response, 200 if ready else 503
