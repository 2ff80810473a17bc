"""Tests for surveyd.services.dispatch.rules and the condition checks of the trigger schema."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from surveyd.schemas.trigger import TriggerCreateSchema
from surveyd.services.dispatch.rules import (
    conditions_hold,
    failed_condition,
    quiet_hours_end,
    sampled_in,
    valid_timezone,
)

UTC = timezone.utc
EVENT = {
    "total": 42, "price": 10.5, "amount_text": "42.5", "word": "Gold", "flag": True, "zero": 0,
    "nothing": None, "tags": ["a", "b"], "order": {"total": 99, "items": {"count": 3}},
    "order.total": 5, "bad_number": "42abc", "one_string": "1", "nan": float("nan"),
}
MISSING = "event.absent"


def holds(field, op, value=None, **extra):
    condition = {"field": field, "op": op, "value": value, **extra}
    return conditions_hold([condition], EVENT, {"tier": "gold", "locale": "tr", "open_complaint": False})


@pytest.mark.parametrize("field, op, value, expected", [
    # equals: type care, exact strings
    ("event.total", "equals", 42, True),
    ("event.total", "equals", 42.0, True),
    ("event.total", "equals", "42", False),
    ("event.one_string", "equals", 1, False),
    ("event.flag", "equals", True, True),
    ("event.flag", "equals", 1, False),
    ("event.zero", "equals", False, False),
    ("event.word", "equals", "Gold", True),
    ("event.word", "equals", "gold", False),
    ("event.nothing", "equals", None, True),
    ("event.tags", "equals", ["a", "b"], True),
    ("event.tags", "equals", ["b", "a"], False),
    (MISSING, "equals", None, False),
    (MISSING, "equals", 0, False),
    # not_equals is the negation; missing always satisfies it
    ("event.total", "not_equals", 42, False),
    ("event.flag", "not_equals", 1, True),
    (MISSING, "not_equals", True, True),
    (MISSING, "not_equals", None, True),
    ("event.nothing", "not_equals", None, False),
    # in / not_in
    ("event.word", "in", ["Gold", "Silver"], True),
    ("event.word", "in", ["gold", "silver"], False),
    ("event.total", "in", [41, 42.0], True),
    ("event.flag", "in", [1, 2], False),
    ("event.zero", "in", [False], False),
    ("event.nothing", "in", [None], True),
    (MISSING, "in", [None], False),
    ("event.word", "not_in", ["Silver"], True),
    ("event.word", "not_in", ["Gold"], False),
    (MISSING, "not_in", ["x"], True),
    # exists: present and not null
    ("event.total", "exists", None, True),
    ("event.zero", "exists", None, True),
    ("event.flag", "exists", None, True),
    ("event.nothing", "exists", None, False),
    (MISSING, "exists", None, False),
    ("event.nothing", "not_exists", None, True),
    (MISSING, "not_exists", None, True),
    ("event.zero", "not_exists", None, False),
    # ordering: real numbers and decimal strings only
    ("event.total", "gt", 41, True),
    ("event.total", "gt", 42, False),
    ("event.total", "gte", 42, True),
    ("event.total", "lt", 42.5, True),
    ("event.total", "lte", 42.0, True),
    ("event.price", "gt", 10, True),
    ("event.amount_text", "gt", 42, True),
    ("event.amount_text", "lte", 42.5, True),
    ("event.amount_text", "lt", 42.5, False),
    ("event.total", "lt", "42.5", True),
    ("event.bad_number", "gt", 0, False),
    ("event.word", "gt", 0, False),
    ("event.flag", "gt", 0, False),
    ("event.flag", "gte", True, False),
    ("event.zero", "lt", True, False),
    ("event.nothing", "lt", 1, False),
    ("event.nan", "lt", 1, False),
    ("event.nan", "gte", 1, False),
    ("event.total", "gt", None, False),
    (MISSING, "gt", 0, False),
    (MISSING, "lte", 0, False),
    # nested names, and a literal dotted key wins
    ("event.order.total", "equals", 5, True),
    ("event.order.items.count", "equals", 3, True),
    ("event.order.items.count", "gte", 3, True),
    ("event.order.items.absent", "exists", None, False),
    ("event.total.deeper", "exists", None, False),
    ("event.order.items", "equals", {"count": 3}, True),
    # contact fields come from the second mapping
    ("contact.tier", "equals", "gold", True),
    ("contact.locale", "in", ["tr", "fa"], True),
    ("contact.total", "exists", None, False),
])
def test_operator_table(field, op, value, expected):
    assert holds(field, op, value) is expected


def test_numeric_strings_in_every_form_integrators_send():
    for text in ["42", "-3", "+7", "0.5", ".5", "5.", "1e3", "2.5E-1", " 42 "]:
        assert conditions_hold([{"field": "event.x", "op": "gte", "value": -1000}], {"x": text}, {}), text
    for text in ["", "abc", "1,5", "0x10", "nan", "inf", "1e", "--1", "٤٢", "1 2"]:
        assert not conditions_hold([{"field": "event.x", "op": "gte", "value": -1000}], {"x": text}, {}), text


def test_nested_path_falls_back_when_literal_key_is_not_a_dict():
    # "a.b" exists literally but is a scalar; "a" -> "b" -> "c" is still reachable.
    data = {"a.b": 1, "a": {"b": {"c": 2}}}
    assert conditions_hold([{"field": "event.a.b.c", "op": "equals", "value": 2}], data, {})
    assert conditions_hold([{"field": "event.a.b", "op": "equals", "value": 1}], data, {})


def test_open_complaint_suppresses_only_while_true():
    rule = [{"field": "contact.open_complaint", "op": "not_equals", "value": True}]
    assert conditions_hold(rule, {}, {}) is True
    assert conditions_hold(rule, {}, {"open_complaint": False}) is True
    assert conditions_hold(rule, {}, {"open_complaint": None}) is True
    assert conditions_hold(rule, {}, {"open_complaint": 1}) is True  # 1 is not true: type care
    assert conditions_hold(rule, {}, {"open_complaint": True}) is False
    assert failed_condition(rule, {}, {"open_complaint": True}) == rule[0]


def test_all_conditions_must_hold_and_the_first_failure_is_named():
    rules = [
        {"field": "event.total", "op": "gt", "value": 10},
        {"field": "contact.tier", "op": "in", "value": ["silver"]},
        {"field": "event.word", "op": "equals", "value": "nope"},
    ]
    assert failed_condition(rules, EVENT, {"tier": "gold"}) is rules[1]
    assert conditions_hold(rules, EVENT, {"tier": "gold"}) is False
    assert conditions_hold(rules[:1], EVENT, {}) is True
    assert conditions_hold([], {}, {}) is True
    assert failed_condition([], {}, {}) is None


def test_unknown_operator_or_source_is_a_programming_error():
    with pytest.raises(ValueError):
        conditions_hold([{"field": "event.x", "op": "bigger", "value": 1}], {"x": 2}, {})
    with pytest.raises(ValueError):
        conditions_hold([{"field": "order.x", "op": "exists"}], {}, {})


# --- sampling ---------------------------------------------------------------------------------

def test_sampling_is_deterministic_and_edges_are_absolute():
    seeds = [f"trigger-7:contact-{i}" for i in range(2000)]
    assert [sampled_in(0.3, s) for s in seeds] == [sampled_in(0.3, s) for s in seeds]
    assert all(sampled_in(1.0, s) for s in seeds)
    assert not any(sampled_in(0.0, s) for s in seeds)
    # A contact sampled in at a rate stays in at any higher rate.
    assert all(sampled_in(0.6, s) for s in seeds if sampled_in(0.3, s))


@settings(max_examples=30, deadline=None)
@given(rate=st.floats(0.0, 1.0), salt=st.text(max_size=20))
def test_share_sampled_in_is_close_to_the_rate(rate, salt):
    share = sum(sampled_in(rate, f"{salt}:{i}") for i in range(10_000)) / 10_000
    assert abs(share - rate) <= 0.03


# --- time zones and quiet hours ---------------------------------------------------------------

def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


NIGHT = {"start": "21:00", "end": "09:00"}


@pytest.mark.parametrize("zone, window, at, expected", [
    # Istanbul is UTC+3 all year.
    ("Europe/Istanbul", NIGHT, utc(2026, 6, 1, 19, 0), utc(2026, 6, 2, 6, 0)),  # 22:00 local, wraps midnight
    ("Europe/Istanbul", NIGHT, utc(2026, 6, 1, 2, 0), utc(2026, 6, 1, 6, 0)),  # 05:00 local, after midnight
    ("Europe/Istanbul", NIGHT, utc(2026, 6, 1, 18, 0), utc(2026, 6, 2, 6, 0)),  # 21:00 exactly: start inclusive
    ("Europe/Istanbul", NIGHT, utc(2026, 6, 1, 17, 59, 59), None),  # 20:59:59
    ("Europe/Istanbul", NIGHT, utc(2026, 6, 1, 6, 0), None),  # 09:00 exactly: end exclusive
    ("Europe/Istanbul", NIGHT, utc(2026, 6, 1, 5, 59, 59), utc(2026, 6, 1, 6, 0)),
    ("Europe/Istanbul", NIGHT, utc(2026, 6, 1, 12, 0), None),  # 15:00 local
    ("Europe/Istanbul", {"start": "12:00", "end": "14:00"}, utc(2026, 6, 1, 10, 0), utc(2026, 6, 1, 11, 0)),
    ("Europe/Istanbul", {"start": "12:00", "end": "14:00"}, utc(2026, 6, 1, 8, 0), None),
    ("Europe/Istanbul", {"start": "12:00", "end": "14:00"}, utc(2026, 6, 1, 20, 0), None),
    ("Europe/Istanbul", {"start": "08:00", "end": "08:00"}, utc(2026, 6, 1, 5, 0), None),  # start == end: no window
    ("Europe/Istanbul", None, utc(2026, 6, 1, 19, 0), None),
    # Tehran is UTC+03:30 (no DST since 2022).
    ("Asia/Tehran", {"start": "22:00", "end": "07:00"}, utc(2026, 1, 10, 20, 0), utc(2026, 1, 11, 3, 30)),
    ("Asia/Tehran", {"start": "22:00", "end": "07:00"}, utc(2026, 7, 10, 18, 30), utc(2026, 7, 11, 3, 30)),
    ("Asia/Tehran", {"start": "22:00", "end": "07:00"}, utc(2026, 7, 10, 18, 29), None),
    # New York, spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC).
    ("America/New_York", NIGHT, utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 13, 0)),  # 00:00 EST -> 09:00 EDT, 8h
    ("America/New_York", {"start": "22:00", "end": "02:30"}, utc(2026, 3, 8, 6, 0), utc(2026, 3, 8, 7, 0)),
    ("America/New_York", {"start": "01:00", "end": "02:00"}, utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0)),
    # 02:45-02:30: the only open slot that day is skipped, so the next one is a day later.
    ("America/New_York", {"start": "02:45", "end": "02:30"}, utc(2026, 3, 8, 6, 0), utc(2026, 3, 9, 6, 30)),
    # New York, fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC).
    ("America/New_York", NIGHT, utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 14, 0)),  # 23:00 EDT -> 09:00 EST, 11h
    ("America/New_York", {"start": "00:00", "end": "01:30"}, utc(2026, 11, 1, 5, 10), utc(2026, 11, 1, 5, 30)),
    ("America/New_York", {"start": "00:00", "end": "01:30"}, utc(2026, 11, 1, 5, 40), None),  # 01:40 EDT
    # 01:10 on the second pass (EST): the earlier 01:30 has passed, so the later one.
    ("America/New_York", {"start": "00:00", "end": "01:30"}, utc(2026, 11, 1, 6, 10), utc(2026, 11, 1, 6, 30)),
    ("America/New_York", {"start": "23:00", "end": "01:30"}, utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 5, 30)),
    # 01:45 EDT is quiet; the replayed 01:00-01:30 EST does not end the window, 07:00 EST does.
    ("America/New_York", {"start": "01:30", "end": "07:00"}, utc(2026, 11, 1, 5, 45), utc(2026, 11, 1, 12, 0)),
    ("America/New_York", {"start": "01:30", "end": "07:00"}, utc(2026, 11, 1, 6, 10), None),  # 01:10 EST
])
def test_quiet_hours_end(zone, window, at, expected):
    result = quiet_hours_end(at, window, zone)
    assert result == expected
    if result is not None:
        assert result.utcoffset() == timedelta(0)


def test_at_in_another_offset_is_the_same_instant():
    at = datetime(2026, 6, 1, 22, 0, tzinfo=ZoneInfo("Europe/Istanbul"))
    assert quiet_hours_end(at, NIGHT, "Europe/Istanbul") == utc(2026, 6, 2, 6, 0)


def test_unknown_zone_and_naive_instant_are_refused():
    for name in ["Mars/Olympus", "", "utc", "../etc/passwd", "America", None]:
        assert valid_timezone(name) is False, name
        with pytest.raises(ValueError):
            quiet_hours_end(utc(2026, 1, 1), NIGHT, name)
    for name in ["UTC", "Europe/Istanbul", "Asia/Tehran", "America/New_York"]:
        assert valid_timezone(name) is True
    with pytest.raises(ValueError):
        quiet_hours_end(datetime(2026, 1, 1), NIGHT, "UTC")


ZONES = ["UTC", "Europe/Istanbul", "Asia/Tehran", "America/New_York", "Europe/London",
         "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/Sao_Paulo"]


@lru_cache(maxsize=None)
def transitions(zone: str) -> tuple[datetime, ...]:
    """UTC hours in 2024-2027 where the zone's offset changes, so the property hits DST days."""
    tz, found, moment = ZoneInfo(zone), [], utc(2024, 1, 1)
    previous = moment.astimezone(tz).utcoffset()
    while moment < utc(2028, 1, 1):
        moment += timedelta(hours=1)
        offset = moment.astimezone(tz).utcoffset()
        if offset != previous:
            found.append(moment)
        previous = offset
    return tuple(found) or (utc(2026, 3, 8, 7),)


@st.composite
def instants(draw, zone):
    if draw(st.booleans()):
        return draw(st.datetimes(datetime(2000, 1, 1), datetime(2037, 12, 31), timezones=st.just(UTC)))
    near = draw(st.sampled_from(transitions(zone)))
    return near + timedelta(seconds=draw(st.integers(-30 * 3600, 30 * 3600)))


def inside(local_minutes: float, start: int, end: int) -> bool:
    if start < end:
        return start <= local_minutes < end
    return local_minutes >= start or local_minutes < end


def minutes_of(instant: datetime, zone: str) -> float:
    local = instant.astimezone(ZoneInfo(zone))
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6


@settings(max_examples=200, deadline=None)
@given(data=st.data(), zone=st.sampled_from(ZONES), start=st.integers(0, 1439), end=st.integers(0, 1439))
def test_quiet_hours_end_properties(data, zone, start, end):
    at = data.draw(instants(zone))
    window = {"start": f"{start // 60:02d}:{start % 60:02d}", "end": f"{end // 60:02d}:{end % 60:02d}"}
    result = quiet_hours_end(at, window, zone)
    if start == end or not inside(minutes_of(at, zone), start, end):
        assert result is None
        return
    assert result is not None and result > at
    # Outside the window (the end itself is outside: end is exclusive).
    assert not inside(minutes_of(result, zone), start, end)
    open_slot = (start - end) % 1440
    # A day plus a DST shift; only a DST gap that swallows a short open slot pushes it a day further.
    assert result - at <= timedelta(hours=25 if open_slot > 60 else 49)
    # And it is the first such instant: every whole minute before it is still quiet, except wall
    # times a fall back replays (fold=1), which do not end a window already under way.
    step = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while step < result:
        assert inside(minutes_of(step, zone), start, end) or step.astimezone(ZoneInfo(zone)).fold == 1, step
        step += timedelta(minutes=1)


# --- the trigger schema -----------------------------------------------------------------------

BASE = {"touchpoint": "order.delivered", "survey_id": 1, "channels": ["sms"]}


def load_condition(condition: dict) -> dict:
    return TriggerCreateSchema().load({**BASE, "conditions": [condition]})["conditions"][0]


@pytest.mark.parametrize("condition, message", [
    ({"field": "contact.tier", "op": "in", "value": "gold"}, '"in" needs a list of values'),
    ({"field": "contact.tier", "op": "not_in"}, '"not_in" needs a list of values'),
    ({"field": "contact.tier", "op": "in", "value": []}, '"in" takes 1 to 100 values, got 0'),
    ({"field": "contact.tier", "op": "in", "value": list(range(101))}, '"in" takes 1 to 100 values, got 101'),
    ({"field": "event.total", "op": "gt", "value": "10"}, '"gt" needs a number value'),
    ({"field": "event.total", "op": "gte", "value": True}, '"gte" needs a number value'),
    ({"field": "event.total", "op": "lt", "value": None}, '"lt" needs a number value'),
    ({"field": "event.total", "op": "lte"}, '"lte" needs a number value'),
    ({"field": "event.total", "op": "lte", "value": float("inf")}, '"lte" needs a number value'),
    ({"field": "event.total", "op": "equals"}, '"equals" needs a value to compare with (null is allowed)'),
    ({"field": "event.total", "op": "not_equals"}, '"not_equals" needs a value'),
    ({"field": "contact.vip", "op": "exists", "value": True}, '"exists" takes no value; leave "value" out'),
    ({"field": "contact.vip", "op": "not_exists", "value": 0}, '"not_exists" takes no value'),
])
def test_schema_refuses_values_that_do_not_fit_the_operator(condition, message):
    with pytest.raises(ValidationError) as caught:
        load_condition(condition)
    [text] = caught.value.messages["conditions"][0]["value"]
    assert text.startswith(message), text


@pytest.mark.parametrize("condition", [
    {"field": "contact.tier", "op": "in", "value": ["gold", "silver"]},
    {"field": "contact.tier", "op": "not_in", "value": list(range(100))},
    {"field": "event.total", "op": "gt", "value": 10},
    {"field": "event.total", "op": "lte", "value": 10.5},
    {"field": "event.open_complaint", "op": "not_equals", "value": True},
    {"field": "event.note", "op": "equals", "value": None},
    {"field": "contact.vip", "op": "exists"},
    {"field": "contact.vip", "op": "not_exists", "value": None},  # how a stored condition reads back
])
def test_schema_accepts_fitting_values(condition):
    assert load_condition(condition) == condition


def test_field_and_operator_errors_still_come_first():
    with pytest.raises(ValidationError) as caught:
        load_condition({"field": "order.total", "op": "gt", "value": "x"})
    assert set(caught.value.messages["conditions"][0]) == {"field"}
