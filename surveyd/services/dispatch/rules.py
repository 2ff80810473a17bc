"""Pure trigger rules: do a trigger's conditions hold, is a contact sampled in, when do quiet hours end.

Conditions (all must hold) read `event.<name>` from the event's attributes and `contact.<name>` from
the contact's fields. A dotted name reaches into nested dicts (`event.order.total`), but a key that
literally contains the dot wins when present. Paths go through dicts only, not list indexes.

- A missing field never equals, is never in, never exists and never compares; so it always
  satisfies not_equals, not_in and not_exists. Every `not_` operator is the exact negation of its
  pair, which makes "not while open_complaint is true" send when the attribute is absent or false.
- `exists` means present and not null.
- equals / in compare with type care: True != 1, "1" != 1, but 1 == 1.0; strings exactly (case
  matters); lists and dicts element by element with the same rule.
- gt / gte / lt / lte compare real numbers only: bool is not a number, non-finite floats are not, and
  an ASCII decimal string such as "42.5", "-1e3" or " 7 " is read as a number (integrators send them)
  exactly, via Decimal. Anything else makes the comparison false, never an error. equals keeps
  "42" != 42: only the ordering operators read strings as numbers.

Quiet hours are a daily [start, end) window on the contact's wall clock. When the window's end does
not exist (spring forward) the send moves to the first valid instant after it, the end of the gap;
when it happens twice (fall back) the earlier one is used unless it has already passed. A window
under way lasts until its end even when a fall back replays wall times from before its start.
"""
from __future__ import annotations

import hashlib
import math
import re
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

_MISSING = object()
_NUMERIC_STRING = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_MAX_DAYS_AHEAD = 7  # quiet-hours lookahead; only a DST gap swallowing the open slot needs a 2nd day


def conditions_hold(conditions: list[dict], event_attributes: dict, contact_fields: dict) -> bool:
    """True when every condition holds (an empty list always holds)."""
    return failed_condition(conditions, event_attributes, contact_fields) is None


def failed_condition(conditions: list[dict], event_attributes: dict, contact_fields: dict) -> dict | None:
    """The first condition that does not hold, or None when all hold."""
    for condition in conditions or []:
        if not _holds(condition, event_attributes or {}, contact_fields or {}):
            return condition
    return None


def _holds(condition: dict, event_attributes: dict, contact_fields: dict) -> bool:
    source, _, name = condition["field"].partition(".")
    if source not in ("event", "contact") or not name:
        raise ValueError(f"condition field must be event.<name> or contact.<name>, got {condition['field']!r}")
    actual = _lookup(event_attributes if source == "event" else contact_fields, name.split("."))
    op, expected = condition["op"], condition.get("value")
    # The negative operators are defined as negations so a missing field always satisfies them.
    if op.startswith("not_"):
        return not _positive(op[4:], actual, expected)
    return _positive(op, actual, expected)


def _positive(op: str, actual: Any, expected: Any) -> bool:
    if op == "exists":
        return actual is not _MISSING and actual is not None
    if actual is _MISSING:
        return False
    if op == "equals":
        return _same(actual, expected)
    if op == "in":
        return isinstance(expected, list) and any(_same(actual, item) for item in expected)
    if op in ("gt", "gte", "lt", "lte"):
        left, right = _number(actual), _number(expected)
        if left is None or right is None:
            return False
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]
    raise ValueError(f"unknown condition operator {op!r}")


def _lookup(data: Any, parts: list[str]) -> Any:
    # Longest literal key first, so {"order.total": 5} wins over {"order": {"total": 7}}.
    if not isinstance(data, dict):
        return _MISSING
    for cut in range(len(parts), 0, -1):
        key = ".".join(parts[:cut])
        if key in data:
            found = data[key] if cut == len(parts) else _lookup(data[key], parts[cut:])
            if found is not _MISSING:
                return found
    return _MISSING


def _same(a: Any, b: Any) -> bool:
    # bool is a subclass of int in Python; a JSON true must not equal 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _number(value: Any) -> int | float | Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _NUMERIC_STRING.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def sampled_in(sample_rate: float, seed: str) -> bool:
    """True when the seed's sha256 falls below the rate: the same seed always gets the same answer."""
    # 64 bits of the digest give a uniform number in [0, 1); rate 1.0 is always in, 0.0 never.
    share = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:8], "big") / 2**64
    return share < sample_rate


def valid_timezone(name: str) -> bool:
    """True when name is an IANA time zone that zoneinfo knows."""
    try:
        _zone(name)
    except ValueError:
        return False
    return True


def quiet_hours_end(at: datetime, quiet_hours: dict | None, timezone: str) -> datetime | None:
    """When `at` falls inside the contact's quiet hours, the UTC instant they end; otherwise None."""
    zone = _zone(timezone)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be an aware datetime")
    if not quiet_hours:
        return None
    start, end = _hhmm(quiet_hours["start"]), _hhmm(quiet_hours["end"])
    if start == end:
        return None
    cursor = at.astimezone(dt_timezone.utc)
    if not _inside(cursor.astimezone(zone).time(), start, end):
        return None
    # Loop because a DST gap can land the end inside the window again (the open slot was skipped).
    for _ in range(_MAX_DAYS_AHEAD):
        local = cursor.astimezone(zone)
        day = local.date() if local.time() < end else local.date() + timedelta(days=1)
        cursor = _wall_to_utc(day, end, zone, after=cursor)
        if not _inside(cursor.astimezone(zone).time(), start, end):
            break
    return cursor


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {name!r}") from exc


def _hhmm(text: str) -> time:
    hours, _, minutes = text.partition(":")
    return time(int(hours), int(minutes))


def _inside(clock: time, start: time, end: time) -> bool:
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end  # the window wraps midnight


def _wall_to_utc(day: date, clock: time, zone: ZoneInfo, after: datetime) -> datetime:
    wall = datetime.combine(day, clock)
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(dt_timezone.utc)
        if instant.astimezone(zone).replace(tzinfo=None) != wall:
            return _gap_end(wall, zone)
        if instant > after:  # fold=0 is the earlier of an ambiguous pair; take it unless already past
            return instant
    return instant


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    # fold=1 reads a skipped wall time with the offset after the jump, fold=0 with the one before;
    # the transition lies between the two, so bisect to the first second on the new offset.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    after_offset = datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, dt_timezone.utc)
