"""Text no database keeps: the NUL character (U+0000). PostgreSQL refuses it in text columns and in jsonb, so a
request carrying one in its path, query, form or JSON body would travel to the first INSERT or WHERE and end there
as a 500. It is refused at the door instead, on every route and on SQLite too (one behaviour everywhere): 400,
nothing read or stored. No provider sends NUL (Twilio and Telegram strip it), so no genuine message is lost."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, request

NUL = "\x00"
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
MESSAGE = "Text may not contain the NUL character (U+0000)."


def has_nul(value: Any) -> bool:
    """Whether a string, or any key or string inside a JSON value, holds NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def json_has_nul(body: bytes) -> bool:
    """Whether a JSON body holds NUL in a string. JSON can only carry it escaped, so a body without `\\u0000` is
    never parsed here; one with it is parsed and walked (the text `\\\\u0000` is a backslash, not NUL)."""
    if b"\\u0000" not in body:
        return False
    try:
        return has_nul(json.loads(body))
    except (ValueError, RecursionError):  # not JSON, or too deep: the parser that follows says so
        return False


def _carries_nul() -> bool:
    if NUL in request.path or any(has_nul(key) or has_nul(value) for key, value in request.args.items(multi=True)):
        return True
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in FORMS:
            # The raw body first, kept: views that read it (the survey page) still can, and the form is parsed
            # from the kept copy only when a NUL could be in it (%00 or, in multipart, the byte itself).
            body = request.get_data(cache=True)
            if b"%00" not in body and b"\x00" not in body:
                return False
            return any(has_nul(key) or has_nul(value) for key, value in request.form.items(multi=True))
        if request.is_json:
            return json_has_nul(request.get_data(cache=True))
    return False


def refuse_nul(app: Flask) -> None:
    """Answer any request carrying NUL with a 400 (in the API's envelope under /api/), before its view runs."""
    from surveyd.api.envelope import envelope

    @app.before_request
    def _refuse_nul():
        if not _carries_nul():
            return None
        if request.path.startswith("/api/"):
            return envelope(400, MESSAGE)
        return MESSAGE + "\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
