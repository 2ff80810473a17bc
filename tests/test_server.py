"""Operations routes, the database-busy path, migrations and the request log."""
import logging
import os
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from surveyd import create_app
from surveyd.extensions import db
from tests.conftest import _backend, make_env

STORAGE = {"storage": "ok"} if _backend() == "sqlite" else {}  # SQLite's disk is checked; PostgreSQL watches its own

SQLITE_ONLY = pytest.mark.skipif(os.environ.get("SURVEYD_TEST_DB", "sqlite") != "sqlite", reason="SQLite locking")


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    checks = ready.get_json()["checks"]
    assert ready.status_code == 200 and checks["database"] == "ok"
    # SQLite's disk is watched too (a full disk fails every write while SELECT 1 still answers).
    assert checks == {"database": "ok", **STORAGE}


def test_readyz_is_503_when_the_database_does_not_answer(tmp_path):
    app = create_app(make_env("postgresql://postgres@127.0.0.1:1/nothing"), instance_path=str(tmp_path))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_checks_the_broker_when_one_is_configured(database_url, tmp_path):
    from tests.conftest import free_port

    up = create_app(make_env(database_url, SURVEYD_BROKER_URL="redis://127.0.0.1:6379/14"), instance_path=str(tmp_path))
    answer = up.test_client().get("/readyz")
    # A Redis broker is also the Redis of rate limits, so both are checked.
    assert answer.status_code == 200 and answer.get_json()["checks"] == {"database": "ok", **STORAGE, "broker": "ok",
                                                                        "redis": "ok"}
    down = create_app(make_env(database_url, SURVEYD_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"),
                      instance_path=str(tmp_path))
    answer = down.test_client().get("/readyz")
    assert answer.status_code == 503 and answer.get_json()["checks"]["broker"] == "unavailable"


def test_readyz_says_when_redis_does_not_answer(database_url, tmp_path):
    from tests.conftest import free_port

    up = create_app(make_env(database_url, SURVEYD_REDIS_URL="redis://127.0.0.1:6379/14"), instance_path=str(tmp_path))
    assert up.test_client().get("/readyz").get_json() == {"status": "ok", "checks": {"database": "ok", **STORAGE,
                                                                                     "redis": "ok"}}
    down = create_app(make_env(database_url, SURVEYD_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"),
                      instance_path=str(tmp_path))
    answer = down.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "unavailable", "checks": {"database": "ok", **STORAGE,
                                                                     "redis": "unavailable"}}


def test_wsgi_exposes_the_app_and_its_celery(monkeypatch, database_url):
    import importlib

    for name, value in make_env(database_url).items():
        monkeypatch.setenv(name, value)
    wsgi = importlib.import_module("wsgi")
    assert wsgi.celery_app is wsgi.app.extensions["celery"]
    assert {"surveyd.send_dispatch", "surveyd.send_dispatches"} <= set(wsgi.celery_app.tasks)


def test_migrations_match_the_models(app):
    with app.app_context():
        with db.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


@SQLITE_ONLY
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL: see the README


@SQLITE_ONLY
def test_sqlite_commits_can_be_synced_to_disk_every_time(database_url, tmp_path):
    durable = create_app(make_env(database_url, SURVEYD_SQLITE_SYNCHRONOUS="full"), instance_path=str(tmp_path))
    with durable.app_context():
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@SQLITE_ONLY
def test_a_locked_database_is_503_with_retry_after_and_changes_nothing(app, database_url, api_key, tmp_path):
    impatient = create_app(make_env(database_url, SURVEYD_SQLITE_BUSY_TIMEOUT_MS="100"), instance_path=str(tmp_path))
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = impatient.test_client().post(
            "/api/v1/events",
            json={"touchpoint": "order.delivered", "contact": {"external_id": "c-locked"}},
            headers={"Authorization": f"Bearer {api_key}"},
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["code"] == "unavailable"
    with app.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM events")).scalar() == 0
        db.session.remove()


def test_request_log_hides_tokens_and_phone_numbers(client, caplog):
    caplog.set_level(logging.INFO, logger="surveyd.request")
    client.get("/s/SECRETTOKEN.MAC")
    client.get("/api/v1/contacts/+905321234567")
    lines = [record.getMessage() for record in caplog.records if record.name == "surveyd.request"]
    assert any(line.startswith("GET /s/… 404") for line in lines), lines
    assert any("/api/v1/contacts/…67 401" in line for line in lines), lines
    assert not any("SECRETTOKEN" in line or "5321234567" in line for line in lines)
