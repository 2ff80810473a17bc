"""Designer texts with {placeholders}: bare names only, filled whole or not at all."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveyd.services.design.placeholders import fields_of, fill


def test_bare_names_are_read_and_filled():
    assert fields_of("How was order {order_id}, {name}?") == ["order_id", "name"]
    assert fill("How was order {order_id}, {name}?", {"order_id": 1042, "name": "Ada"}) == "How was order 1042, Ada?"
    assert fill("Braces {{like this}} stay", {}) == "Braces {like this} stay"
    assert fill("No placeholders", {}) == "No placeholders"


@pytest.mark.parametrize("text", [
    "{0}", "{}", "{0.__class__}", "{name.__class__.__mro__}", "{name[0]}", "{name!r}", "{name:>99999}", "{name", "name}",
    "{ name }", "{1abc}",
])
def test_anything_but_a_bare_name_is_refused(text):
    assert fields_of(text) is None
    assert fill(text, {"name": "Ada", "0": "x"}) is None


@pytest.mark.parametrize("values", [{}, {"order_id": None}, {"order_id": ""}, {"order_id": "  "},
                                    {"order_id": {"nested": 1}}, {"order_id": [1, 2]}, {"order_id": True}])
def test_a_text_whose_placeholder_cannot_be_filled_is_not_used(values):
    assert fill("How was order {order_id}?", values) is None


def test_values_become_one_short_line():
    assert fill("Re: {ref}", {"ref": "A\r\nBcc: evil@example.com"}) == "Re: A Bcc: evil@example.com"
    assert fill("{ref}", {"ref": "x" * 500}) == "x" * 100


@given(st.text(max_size=80), st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True),
                                             st.text(max_size=30), max_size=4))
def test_fill_never_raises_and_never_leaves_a_line_break_from_a_value(text, values):
    filled = fill(text, values)
    if filled is not None:  # values add no line breaks; the text's own stay
        assert filled.count("\n") == text.count("\n")
