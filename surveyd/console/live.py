"""The inbox's live stream (Server-Sent Events), kept from starving the server.

waitress serves an open stream from one of its threads for as long as it is open. So streams have a budget of
their own (SURVEYD_CONSOLE_STREAMS, default 50): `serve` runs that many threads beyond its request threads, and a
stream beyond the budget is told to come back in 15 s, so open inboxes can never take the threads the API and
the survey pages need. Each stream ends after STREAM_SECONDS and the browser reconnects (EventSource does, sending
the last alert id it saw), which frees the thread of a tab nobody looks at; a comment every HEARTBEAT_SECONDS
finds a closed tab (waitress learns of it at the next write). A stream sleeps on the alert feed (services/alerts/feed.py) and reads the database only
when woken: for the alerts just published, never by polling.
"""
from __future__ import annotations

import threading
import time

from flask import Response, current_app, render_template, request

from surveyd.extensions import db
from surveyd.models import utcnow
from surveyd.services.alerts import handling
from surveyd.services.alerts.feed import current_feed

STREAM_SECONDS = 55.0
HEARTBEAT_SECONDS = 5.0
RECONNECT_MS = 1000
BUSY_RETRY_MS = 15000


def slots() -> threading.BoundedSemaphore:
    """The app's stream budget."""
    extensions = current_app.extensions
    if "surveyd.console_streams" not in extensions:
        extensions["surveyd.console_streams"] = threading.BoundedSemaphore(
            max(1, current_app.config["SURVEYD"].console_streams))
    return extensions["surveyd.console_streams"]


def _event(name: str, last: int, html: str) -> str:
    """One event; its id is always the newest alert id sent, which the browser sends back when it reconnects."""
    data = "".join(f"data: {line}\n" for line in html.strip().splitlines())
    return f"event: {name}\nid: {last}\n{data}\n"


def stream(filters: dict) -> Response:
    """The event stream for an inbox showing these filters, from the last alert id it holds."""
    last_seen = request.headers.get("Last-Event-ID") or request.args.get("after") or "0"
    last = int(last_seen) if last_seen.isdigit() else 0
    budget, enabled = slots(), current_app.config["SURVEYD"].console_streams > 0
    feed = current_feed()

    app, environ = current_app._get_current_object(), dict(request.environ)

    def rows(**where) -> list:
        # A request context of its own for each read, entered and left between two yields: nothing (context,
        # session, connection) is held while the stream waits, and the stream may be iterated on any thread.
        with app.request_context(environ):
            found = handling.list_alerts(limit=50, **filters, **where)
            now = utcnow()
            html = [(a.id, render_template("console/alert_row.html", alert=a, now=now)) for a in reversed(found)]
            db.session.remove()
        return html

    def events():
        nonlocal last
        # Taken here, not before the response: a generator never started would never give its slot back.
        if not enabled or not budget.acquire(blocking=False):
            yield f"retry: {BUSY_RETRY_MS}\n\n"  # no thread to spare: the page works by reloading; try later
            return
        seen, generation = feed.version, feed.generation  # before anything is read: what comes next wakes us
        try:
            yield f"retry: {RECONNECT_MS}\n\n"
            for alert_id, html in rows(after=last):  # what came in between the page and this stream
                last = max(last, alert_id)
                yield _event("alert", last, html)
            deadline = time.monotonic() + STREAM_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                seen, ids = feed.wait(seen, min(HEARTBEAT_SECONDS, left), generation)
                if feed.generation != generation:
                    return  # the server is stopping
                if ids == set():
                    yield ": still here\n\n"
                    continue
                found = rows(**({"after": last} if ids is None else {"ids": ids}))
                for alert_id, html in found:
                    name = "alert" if alert_id > last else "update"
                    last = max(last, alert_id)
                    yield _event(name, last, html)
                for alert_id in sorted((ids or set()) - {alert_id for alert_id, _ in found}):
                    if alert_id <= last:  # changed so that it no longer passes this inbox's filters
                        yield _event("gone", last, f'<tr id="alert-{alert_id}"></tr>')
        finally:
            budget.release()

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
