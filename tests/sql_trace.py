"""What a test's code asks of the database: the SQL statements an engine runs, and the ORM flushes of db.session."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import sqlalchemy as sa

from surveyd.extensions import db


@contextmanager
def statements(engine: sa.Engine, words: int | None = None) -> Iterator[list[str]]:
    """The statements the engine runs inside the block, as the database receives them; with `words`, only their
    first words, upper-cased ("UPDATE", or "UPDATE INBOUND_MESSAGES" with 2)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_):
        seen.append(" ".join(statement.split()[:words]).upper() if words else statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@contextmanager
def flushes() -> Iterator[list]:
    """The sessions db.session flushed inside the block, one entry a flush."""
    seen: list = []

    def record(session, *_):
        seen.append(session)

    sa.event.listen(db.session, "before_flush", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.session, "before_flush", record)
