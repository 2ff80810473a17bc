"""Ids in URLs: `<int:...>` matches only what a row id can be (up to models.base.LARGEST_ID, PostgreSQL's INTEGER),
so a larger number in a path is a 404 like any id that does not exist, never an overflow in the database driver."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

from surveyd.models.base import LARGEST_ID


class RowId(IntegerConverter):
    """Werkzeug's int converter with a ceiling (and the usual floor of 0) unless a rule sets its own."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=LARGEST_ID if max is None else max,
                         signed=signed)
