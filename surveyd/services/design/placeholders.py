"""Designer-written texts with {placeholders} for the contact's name and the event's attributes.

Only bare names are allowed: no attribute access, indexing, conversions or format specs, so a text
cannot reach into Python objects ("{0.__class__}") however it is written. A text whose placeholders
cannot all be filled is not used at all; the caller falls back to the built-in wording rather than
send "How was order ?".
"""
from __future__ import annotations

import re
from string import Formatter
from typing import Any, Mapping

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VALUE = 100  # an attribute longer than this is cut: it is a reference, not a paragraph


def fields_of(text: str) -> list[str] | None:
    """The placeholder names in a text, or None when a placeholder is not a bare name or a brace is unbalanced."""
    try:
        parsed = list(Formatter().parse(text))
    except ValueError:
        return None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not NAME.match(name) or spec or conversion:
            return None
        names.append(name)
    return names


def fill(text: str | None, values: Mapping[str, Any]) -> str | None:
    """The text with every placeholder filled from values, or None when any is missing or empty."""
    if not text:
        return None
    names = fields_of(text)
    if names is None:
        return None
    filled = {}
    for name in names:
        value = values.get(name)
        if value is None or isinstance(value, (dict, list, bool)) or str(value).strip() == "":
            return None
        # One line, as short as a reference: the subject is a header and the intro a sentence.
        filled[name] = " ".join(str(value).split())[:MAX_VALUE]
    return text.format_map(filled)
