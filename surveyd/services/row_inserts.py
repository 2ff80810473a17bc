"""New rows written with one Core statement each, for the hot paths that insert and never change them again.

The ORM's unit of work (a flush) sorts, cascades and tracks every object it writes; for an event's few new rows
that bookkeeping costs more than the statements themselves (bench/README.md, issue 17). Here a mapped object is
built as usual, so the code that decides its fields reads the same, and then inserted with `INSERT ... RETURNING
id` on the session's connection, in its transaction. The object stays out of the session: it is a record of what
was written (its id included), not a live row; read the row again to change it.

Only the object's columns are written, with the model's column defaults for those not set; relationships are not
followed, so a foreign key is given by its id (dispatch.planning.store sets a reminder's parent_id once its
invitation has one).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from surveyd.extensions import db


def values(instance: Any) -> dict[str, Any]:
    """The column values set on a transient mapped object, by column name."""
    state = sa.inspect(instance)
    if state.session is not None or state.key is not None:
        raise ValueError(f"{instance!r} is in a session; row_inserts writes new, transient objects only")
    given = state.dict
    return {attribute.columns[0].name: given[attribute.key]
            for attribute in state.mapper.column_attrs if attribute.key in given}


def insert(instance: Any) -> int:
    """Insert one transient mapped object in the session's transaction; its id is set and returned."""
    table = sa.inspect(instance).mapper.local_table
    instance.id = db.session.connection().execute(sa.insert(table).returning(table.c.id), values(instance)).scalar_one()
    return instance.id


def insert_all(instances: list[Any]) -> None:
    """Insert transient objects of one model, each with the same fields set, in one statement; no ids are read."""
    if instances:
        table = sa.inspect(instances[0]).mapper.local_table
        db.session.connection().execute(sa.insert(table), [values(instance) for instance in instances])
