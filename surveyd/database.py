"""Engine behaviour per database: SQLite in WAL mode with a busy timeout; a locked, full or unreachable database as 503."""
from __future__ import annotations

import sqlite3
import threading
from typing import Callable

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

RETRY_AFTER_SECONDS = 1
HOLDS_WRITER = "surveyd_holds_writer_lock"
# Execution option for a read-only transaction on SQLite: a deferred BEGIN, so it reads one snapshot (WAL) without
# taking the writer from anyone; a write in it would fail. `db.session.connection(execution_options={SNAPSHOT: True})`
# as the transaction's first call. PostgreSQL ignores it.
SNAPSHOT = "surveyd_snapshot"


def configure_sqlite(engine: sa.Engine, busy_timeout_ms: int, synchronous: str = "normal") -> None:
    """WAL, a busy timeout, foreign keys, and BEGIN IMMEDIATE so writers queue instead of failing. `synchronous`
    is "normal" (a commit is in the WAL file before it returns, which the OS keeps if the process dies; the file
    is synced to disk at checkpoints, so a power loss may undo the last commits, never corrupt) or "full" (the WAL
    file is synced at every commit: a commit survives a power loss too); load_settings has checked it."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (pysqlite's own handling is broken).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA secure_delete=ON")  # freed content is zeroed: an erased person leaves no bytes behind
        cursor.close()

    # SQLite has one writer at a time. Threads of this process queue for it on a lock of ours:
    # SQLite's own busy handler makes waiters sleep and poll (up to 100 ms a nap), which turns a
    # burst of writers into seconds of tail latency. Other processes still meet the busy timeout.
    writer = threading.Lock()
    timeout = busy_timeout_ms / 1000

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        if connection.get_execution_options().get(SNAPSHOT):
            connection.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=timeout):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        connection.info[HOLDS_WRITER] = True
        try:
            # A deferred transaction that reads then writes fails at once in WAL when another writer
            # got in between; taking the write lock up front makes it wait for busy_timeout instead.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    def _release(connection) -> None:
        if connection.info.pop(HOLDS_WRITER, False):
            writer.release()

    @sa.event.listens_for(engine, "commit")
    def _after_commit(connection) -> None:
        _release(connection)

    @sa.event.listens_for(engine, "rollback")
    def _after_rollback(connection) -> None:
        _release(connection)


# What a request is told when the database fails it, and when to try again: nothing of it was stored.
TROUBLE = {
    "locked": ("The database is busy; try again shortly.", RETRY_AFTER_SECONDS),
    "full": ("The database's disk is full; nothing was stored. Try again later.", 30),
    "unreachable": ("The database is unavailable; nothing was stored. Try again shortly.", 5),
}


def database_trouble(error: BaseException) -> str | None:
    """Which passing trouble of the database failed a statement, if any: "locked" (SQLite's busy timeout ran
    out), "full" (the disk is), "unreachable" (the connection was refused or lost: a restart, a failover).
    None for anything else, which is a bug and stays a 500."""
    if not isinstance(error, DBAPIError):
        return None
    text = str(error.orig).lower()
    if isinstance(error, OperationalError) and "database is locked" in text:
        return "locked"
    if "disk is full" in text or "no space left" in text or type(error.orig).__name__ == "DiskFull":
        return "full"
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return "unreachable"
    if isinstance(error, OperationalError) and any(
            sign in text for sign in ("connection", "terminating", "shutting down", "starting up", "server closed",
                                      "unable to open database file", "disk i/o error")):
        return "unreachable"
    return None


def rollback_or_discard(session) -> None:
    """Roll back the session; when the connection went with the database, the rollback fails too
    and the session is discarded instead (the pool replaces its connection)."""
    try:
        session.rollback()
    except Exception:
        session.remove()


def init_database(app: Flask, db) -> None:
    """Apply per-dialect engine settings once the engine exists."""
    settings = app.config["SURVEYD"]
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            configure_sqlite(engine, settings.sqlite_busy_timeout_ms, settings.sqlite_synchronous)


def on_transaction_end(db, after_commit: Callable, after_rollback: Callable) -> None:
    """Call after_commit(session) once a session's transaction is committed (and after_rollback when it is
    not); registered once per process, however many apps are created."""
    for name, hook in (("after_commit", after_commit), ("after_soft_rollback", after_rollback)):
        if not sa.event.contains(db.session, name, hook):
            sa.event.listen(db.session, name, hook)
