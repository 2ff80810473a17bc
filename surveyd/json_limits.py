"""JSON bodies with a bounded depth. Python's parser recurses once per level, so a few thousand nested brackets
end in RecursionError (a 500) instead of a refusal; no request surveyd accepts nests anywhere near MAX_DEPTH. The
depth is counted over the raw text (brackets outside strings) before parsing, in one pass, and a deeper body is
refused like any malformed JSON: 400, nothing stored."""
from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32


class TooDeep(ValueError):
    """The document nests deeper than MAX_DEPTH."""


def depth(text: str | bytes, limit: int = MAX_DEPTH) -> int:
    """How deep arrays and objects nest in a JSON text (stops counting past `limit` + 1)."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", errors="replace")
    deepest = level = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    return deepest
        elif char in "]}":
            level -= 1
    return deepest


def too_deep(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether a JSON text nests deeper than `limit`; the usual body has too few brackets to, and is not scanned."""
    opening = (b"[", b"{") if isinstance(text, (bytes, bytearray)) else ("[", "{")
    if text.count(opening[0]) + text.count(opening[1]) <= limit:
        return False
    return depth(text, limit) > limit


class NotJSON(ValueError):
    """NaN, Infinity or -Infinity: Python's parser takes them, JSON (and PostgreSQL's jsonb) does not."""


def _refuse_constant(name: str) -> Any:
    raise NotJSON(f"{name} is not JSON")


def non_standard(text: str | bytes) -> bool:
    """Whether a JSON text uses NaN or Infinity outside strings; only a text that mentions them is parsed."""
    words = (b"NaN", b"Infinity") if isinstance(text, (bytes, bytearray)) else ("NaN", "Infinity")
    if not any(word in text for word in words):
        return False
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except NotJSON:
        return True
    except (ValueError, RecursionError):  # malformed otherwise: the parser that follows says so
        return False
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing documents nested deeper than MAX_DEPTH before the parser recurses into them, and
    the non-standard constants NaN and Infinity."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if too_deep(s):
            raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
        kwargs.setdefault("parse_constant", _refuse_constant)
        return super().loads(s, **kwargs)
