"""Rows written with one Core statement each instead of the unit of work, for the hot paths.

The ORM's unit of work (a flush) sorts, cascades and tracks every object it writes; for an event's few new rows
that bookkeeping costs more than the statements themselves (bench/README.md, issue 17). Here a mapped object is
built as usual, so the code that decides its fields reads the same, and then inserted with `INSERT ... RETURNING
id` on the session's connection, in its transaction. The object stays out of the session: it is a record of what
was written (its id and the model's column defaults included), not a live row; read the row again to change it.
Or hand it to `attach`, which puts it in the session as if it had just been loaded: its relationships then load as
usual and a later change is flushed as an UPDATE (the answer path inserts a response this way, then completes it).

Only the object's columns are written, with the model's column defaults for those not set; relationships are not
followed, so a foreign key is given by its id (dispatch.planning.store sets a reminder's parent_id once its
invitation has one).

`update` is the same idea for a persistent object with nothing else pending: a few columns written with one
`UPDATE` and set on the object as loaded, so no flush is owed (a dispatch's status, on the answer path).

`together()` is for code that writes many rows of the same shape (a send batch's dispatches, each with a
status step): inside it, `update` and `add` queue their rows, and the queue is written with one executemany per
table and set of columns when the block ends. It is also written before the session runs any query, flushes or
commits, as the ORM's autoflush does, so code inside the block reads what it wrote and no later change can be
overtaken by an earlier one.
"""
from __future__ import annotations

import functools
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from surveyd.extensions import db

ROW_ID = "row_writes_id"  # the bound id of an UPDATE's row: no column has this name


class _Shape:
    """What writing a model's rows needs to know of its columns, worked out once per model (the mapper's column
    attributes, their defaults and their names), since a hot path writes several rows a request."""

    def __init__(self, mapper):
        self.table = mapper.local_table
        self.names = {attribute.key: attribute.columns[0].name for attribute in mapper.column_attrs}
        # (key, how the missing value is made): a column with a server default is left to the database.
        self.defaults: list[tuple[str, Any]] = []
        self.onupdate: list[tuple[str, Any]] = []
        for attribute in mapper.column_attrs:
            column = attribute.columns[0]
            if column.onupdate is not None and column.onupdate.is_callable:
                self.onupdate.append((attribute.key, column.onupdate.arg))  # updated_at
            if column.primary_key:
                continue
            if column.default is None:
                if column.server_default is None:
                    self.defaults.append((attribute.key, _none))
            elif column.default.is_scalar:
                self.defaults.append((attribute.key, functools.partial(_scalar, column.default.arg)))
            elif column.default.is_callable:
                self.defaults.append((attribute.key, column.default.arg))  # utcnow, dict, list: no context


def _none(_context) -> None:
    return None


def _scalar(value: Any, _context) -> Any:
    return value


@functools.cache
def _shape(mapper) -> _Shape:
    return _Shape(mapper)


def values(instance: Any) -> dict[str, Any]:
    """The column values of a transient mapped object, by column name: those set, the model's Python-side column
    defaults, and None for the rest. They are set on the object too, so that it shows the row as written (a column
    with a server default is left to the database and not shown)."""
    state = sa.inspect(instance)
    if state.session is not None or state.key is not None:
        raise ValueError(f"{instance!r} is in a session; row_writes writes new, transient objects only")
    given = state.dict
    shape = _shape(state.mapper)
    for key, make in shape.defaults:
        if key not in given:
            setattr(instance, key, make(None))  # read back, the row needs no query
    return {name: given[key] for key, name in shape.names.items() if key in given}


@functools.cache
def _insert_returning_id(table: sa.Table) -> sa.Insert:
    # Built once per table: a statement object keeps its cache key, so each use skips making and hashing it.
    return sa.insert(table).returning(table.c.id)


@functools.cache
def _update_by_id(table: sa.Table) -> sa.Update:
    # The SET clause is whichever columns the parameters name; the row is the bound ROW_ID.
    return sa.update(table).where(table.c.id == sa.bindparam(ROW_ID))


@functools.cache
def _insert(table: sa.Table) -> sa.Insert:
    return sa.insert(table)


class _Queue:
    """The rows a `together()` block has written so far, not yet sent to the database."""

    def __init__(self, session: Session):
        self.session = session
        self.updates: dict[int, tuple[sa.Table, Any, dict[str, Any]]] = {}  # by id(instance): its columns merged
        self.inserts: list[tuple[sa.Table, dict[str, Any]]] = []

    def write(self) -> None:
        """Send what is queued: one executemany per table and set of columns, updates first."""
        if not self.updates and not self.inserts:
            return
        updates, inserts = self.updates, self.inserts
        self.updates, self.inserts = {}, []
        connection = self.session.connection()
        by_shape: dict[tuple[sa.Table, frozenset], list[dict]] = defaultdict(list)
        for table, instance, columns in updates.values():
            by_shape[(table, frozenset(columns))].append({**columns, ROW_ID: instance.id})
        for (table, _), rows in by_shape.items():
            connection.execute(_update_by_id(table), rows)
        by_shape.clear()
        for table, columns in inserts:
            by_shape[(table, frozenset(columns))].append(columns)
        for (table, _), rows in by_shape.items():
            connection.execute(_insert(table), rows)


_queue: ContextVar[_Queue | None] = ContextVar("row_writes_queue", default=None)


@contextmanager
def together() -> Iterator[None]:
    """Queue this block's `update` and `add` rows and write them in one statement per table and shape (see above).
    An exception leaves the queue unwritten: the transaction it belongs to is about to be rolled back."""
    queue = _Queue(db.session())
    token = _queue.set(queue)
    try:
        yield
        queue.write()
    finally:
        _queue.reset(token)


def _queue_of(session: Session) -> _Queue | None:
    queue = _queue.get()
    return queue if queue is not None and queue.session is session else None


@sa.event.listens_for(Session, "do_orm_execute")
def _before_query(state) -> None:
    if (queue := _queue_of(state.session)) is not None:
        queue.write()


@sa.event.listens_for(Session, "before_flush")
@sa.event.listens_for(Session, "before_commit")
def _before_flush(session: Session, *_) -> None:
    if (queue := _queue_of(session)) is not None:
        queue.write()


@sa.event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, *_) -> None:
    if (queue := _queue_of(session)) is not None:
        queue.updates, queue.inserts = {}, []  # they belonged to the transaction that is gone


@sa.event.listens_for(Session, "after_transaction_create")
def _no_savepoints(session: Session, transaction) -> None:
    if transaction.nested and _queue_of(session) is not None:
        # A savepoint's rollback would need to know which queued rows came before it; nothing here needs one.
        raise RuntimeError("row_writes.together() does not support savepoints inside its block")


def _write_queued() -> None:
    """A statement that bypasses the queue goes after what is queued, as the ORM's own statements do."""
    if (queue := _queue_of(db.session())) is not None:
        queue.write()


def insert(instance: Any) -> int:
    """Insert one transient mapped object in the session's transaction; its id is set and returned."""
    _write_queued()
    table = sa.inspect(instance).mapper.local_table
    instance.id = db.session.connection().execute(_insert_returning_id(table), values(instance)).scalar_one()
    return instance.id


def attach(*instances: Any) -> None:
    """Put inserted objects in the session as persistent rows, as if just loaded, without a flush.

    Pass together objects that refer to each other (a response and its answers): each must have its id before any
    joins the session, or the session's cascade would add the others as new rows to insert again.
    """
    for instance in instances:
        if instance.id is None:
            raise ValueError(f"{instance!r} has no id; insert it before attaching it")
        make_transient_to_detached(instance)
    for instance in instances:
        db.session.add(instance)


def update(instance: Any, **changes: Any) -> bool:
    """Write `changes` to a persistent object's row with one UPDATE, and set them on it as loaded; the model's
    Python-side onupdate values too. False, and nothing written, when the object has other changes pending: then
    the changes are set as usual and go with the flush those changes owe anyway."""
    state = sa.inspect(instance)
    if not state.persistent or state.modified:
        for key, value in changes.items():
            setattr(instance, key, value)
        return False
    shape = _shape(state.mapper)
    table = shape.table
    for key, make in shape.onupdate:
        if key not in changes:
            changes[key] = make(None)  # updated_at
    columns = {shape.names[key]: value for key, value in changes.items()}
    if (queue := _queue_of(state.session)) is not None:
        queued = queue.updates.setdefault(id(instance), (table, instance, {}))
        queued[2].update(columns)
    else:
        db.session.connection().execute(_update_by_id(table), {**columns, ROW_ID: instance.id})
    for key, value in changes.items():
        set_committed_value(instance, key, value)
    return True


def add(instance: Any) -> None:
    """Insert a transient mapped object whose id nobody reads (a status step): queued inside `together()`, at once
    otherwise."""
    if (queue := _queue_of(db.session())) is not None:
        queue.inserts.append((sa.inspect(instance).mapper.local_table, values(instance)))
    else:
        insert(instance)


def insert_all(instances: list[Any]) -> None:
    """Insert transient objects of one model, each with the same fields set, in one statement; no ids are read."""
    if instances:
        _write_queued()
        table = sa.inspect(instances[0]).mapper.local_table
        db.session.connection().execute(_insert(table), [values(instance) for instance in instances])


def update_row(model: Any, row_id: int, **columns: Any) -> None:
    """Write columns of a row known by its id (one `insert` wrote), with one UPDATE; no object is changed."""
    _write_queued()
    db.session.connection().execute(_update_by_id(sa.inspect(model).local_table), {**columns, ROW_ID: row_id})
