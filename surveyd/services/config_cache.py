"""What every request reads and only staff change, cached in each process and never stale.

API keys, touchpoints, triggers and the surveys' current versions change a few times a day; every event reads them.
Each process keeps what it read in a Snapshot of one configuration generation (models/config_generation.py):
triggers in the database move that counter in the same transaction as any change to those tables, whoever makes
it (another web process, a worker, the CLI, psql). A transaction reads the counter once, one primary-key SELECT,
and uses the snapshot of that generation; when the counter moved, it starts an empty one. So a key revoked in
another process is refused by the first request whose transaction begins after the revocation commits, exactly
as when every request looked the key up.

A value is kept only if the counter has not moved in the transaction that loaded it: a transaction that itself
changed a cached table (a new touchpoint named by an event) must not leave a row that may yet roll back.
"""
from __future__ import annotations

import threading
from typing import Callable, Hashable, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveyd.extensions import db
from surveyd.models import ConfigGeneration

T = TypeVar("T")
SESSION_KEY = "surveyd_config_snapshot"
_GENERATION = sa.select(ConfigGeneration.n).where(ConfigGeneration.id == 1)


class Snapshot:
    """The values read under one generation; None when the database has no counter, and then nothing is kept."""

    def __init__(self, generation: int | None):
        self.generation = generation
        self.values: dict[tuple[str, Hashable], object] = {}


_current = Snapshot(None)
_lock = threading.Lock()


def _generation() -> int | None:
    return db.session.execute(_GENERATION).scalar()


def snapshot() -> Snapshot:
    """This transaction's snapshot: read once per transaction (the session forgets it when the transaction ends)."""
    global _current
    session = db.session()
    found = session.info.get(SESSION_KEY)
    if found is not None:
        return found
    generation = _generation()
    with _lock:
        if generation is None:
            found = Snapshot(None)
        elif _current.generation == generation:
            found = _current
        else:
            found = _current = Snapshot(generation)
    session.info[SESSION_KEY] = found
    return found


def cached(kind: str, key: Hashable, load: Callable[[], T | None]) -> T | None:
    """The value of (kind, key) in this transaction's snapshot, loaded on a miss. None is never kept: what does not
    exist yet (an unknown key, a touchpoint about to be created) is looked up again next time."""
    snap = snapshot()
    try:
        return snap.values[(kind, key)]  # type: ignore[return-value]
    except KeyError:
        pass
    value = load()
    if value is not None and snap.generation is not None and _generation() == snap.generation:
        snap.values[(kind, key)] = value
    return value


def detached_rows(statement: sa.Select) -> list[tuple]:
    """The rows of an ORM query as objects of no session, fully loaded and never expired, for any session to merge
    (merge(obj, load=False) costs no query). They are read in this transaction, through a session of their own, so
    the caller's session and the objects it holds are left as they were."""
    with Session(bind=db.session.connection()) as loader:
        rows = [tuple(row) for row in loader.execute(statement)]
        loader.expunge_all()
    return rows


def forget() -> None:
    """Drop what this process keeps (tests, and a restore that rewinds the counter)."""
    global _current
    with _lock:
        _current = Snapshot(None)


@sa.event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(SESSION_KEY, None)
