"""Engine behaviour per database: SQLite in WAL mode with a busy timeout, lock errors as 503."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

RETRY_AFTER_SECONDS = 1


def configure_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE so writers queue instead of failing."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (pysqlite's own handling is broken).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # A deferred transaction that reads then writes fails at once in WAL when another writer
        # got in between; taking the write lock up front makes it wait for busy_timeout instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_database_locked(error: BaseException) -> bool:
    """True for SQLite's 'database is locked' after the busy timeout ran out."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def init_database(app: Flask, db) -> None:
    """Apply per-dialect engine settings once the engine exists."""
    settings = app.config["SURVEYD"]
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            configure_sqlite(engine, settings.sqlite_busy_timeout_ms)
