"""One log line per request, with secrets and phone numbers kept out."""
from __future__ import annotations

import logging
import re
import time

from flask import Flask, g, request

log = logging.getLogger("surveyd.request")

_TOKEN_PATH = re.compile(r"^/(s|u)/[^/]+")
_PHONE = re.compile(r"\+?\d{7,15}")


def redact_path(path: str) -> str:
    """The path with survey tokens hidden and long digit runs cut to their last two digits."""
    path = _TOKEN_PATH.sub(lambda m: f"/{m.group(1)}/…", path)
    return _PHONE.sub(lambda m: "…" + m.group(0)[-2:], path)


def init_request_log(app: Flask) -> None:
    """Time every request and log method, redacted path, status and milliseconds."""

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log(response):
        started = g.get("request_started")
        elapsed = (time.perf_counter() - started) * 1000 if started else 0.0
        log.info(
            "%s %s %s %.1fms", request.method, redact_path(request.path), response.status_code, elapsed
        )
        return response
