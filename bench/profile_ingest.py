"""Where one event's milliseconds go: POST /api/v1/events through the real app in one process, under cProfile.

No network and no load generator: the Flask test client sends N events (a new contact and Idempotency-Key
each, one web dispatch planned, as bench/ingest.py does) and N GET /healthz for scale. The profile is cut into
the parts issue 17 names (API key, body checks, schema loading, contact, touchpoint and trigger lookups,
planning, flushes, commit, the stored answer) by the cumulative time of the functions that do each; parts nest,
so the table shows them as a tree. CPU-bound figures: the same work under load adds queueing, not CPU.

    .venv/bin/python bench/profile_ingest.py [--events 2000] [--database sqlite|postgresql] [--top 25]
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import report  # noqa: E402
from bench.insight import fresh_database  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"

# (depth, label, module path fragment, function name): cumulative time of the first matching function.
PARTS = [
    (0, "whole request (Flask test client)", "werkzeug/test.py", "run_wsgi_app"),
    (1, "API key check", "surveyd/services/access/api_keys.py", "authenticate"),
    (1, "rate limit", "surveyd/api/rate_limit.py", "_limit"),
    (1, "request body checks (JSON, NUL, limits)", "surveyd/api/__init__.py", "_json_only"),
    (1, "schema loading (marshmallow)", "marshmallow/schema.py", "load"),
    (1, "request digest", "surveyd/services/intake/events.py", "request_hash"),
    (1, "record_event (the service)", "surveyd/services/intake/events.py", "record_event"),
    (2, "idempotency lookup", "surveyd/services/intake/events.py", "_replay"),
    (2, "touchpoint lookup", "surveyd/services/design/touchpoints.py", "touchpoint_id"),
    (2, "contact upsert", "surveyd/services/audience/contacts.py", "apply_contact"),
    (2, "planning (triggers, rules, dispatch rows)", "surveyd/services/dispatch/planning.py", "plan_dispatches"),
    (2, "the stored answer (present)", "surveyd/api/events.py", "present"),
    (2, "commit", "sqlalchemy/orm/session.py", "commit"),
    (1, "all ORM flushes (inside the above)", "sqlalchemy/orm/session.py", "flush"),
    (1, "all SQL in the driver (inside the above)", "sqlite3", "execute"),
]


def surveyd_with_trigger(database: str, channel: str, delay_seconds: int, **settings: str):
    """A migrated app on a fresh database with an API key, one NPS survey and one trigger on order.delivered; the
    app, its test client and the headers that authenticate."""
    from surveyd import create_app
    from surveyd.extensions import db
    from surveyd.server import apply_migrations
    from surveyd.services.access.api_keys import create_api_key

    app = create_app({"SURVEYD_SECRET_KEY": SECRET, "SURVEYD_DATABASE_URL": fresh_database(
        database, None, "surveyd_profile"), "SURVEYD_SANDBOX": "1", "SURVEYD_PUBLIC_URL": "http://127.0.0.1:1",
        "SURVEYD_API_RATE": "0", **settings}, instance_path=tempfile.mkdtemp(prefix="surveyd-profile-"))
    apply_migrations(app, quiet=True)
    with app.app_context():
        _, key = create_api_key("profile")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    survey = client.post("/api/v1/surveys", json={"name": "Profile NPS", "kind": "nps", "locales": ["en"]},
                         headers=headers).get_json()
    assert client.post("/api/v1/triggers", json={"touchpoint": "order.delivered", "survey_id": survey["id"],
                                                  "channels": [channel], "delay_seconds": delay_seconds},
                       headers=headers).status_code == 201
    return app, client, headers


def _cumulative(stats: pstats.Stats, fragment: str, name: str) -> float:
    """Seconds spent in (and under) the matching function(s); the largest when several match."""
    found = [ct for (file, _, func), (_, _, _, ct, _) in stats.stats.items()
             if func.endswith(name) and fragment in file]
    if fragment == "sqlite3":  # C functions: pstats names them '<method 'execute' of 'sqlite3.Cursor' objects>'
        found = [ct for (file, _, func), (_, _, _, ct, _) in stats.stats.items()
                 if file == "~" and ("sqlite3.Cursor" in func or "psycopg" in func) and "execute" in func]
        found += [ct for (file, _, func), (_, _, _, ct, _) in stats.stats.items()
                  if "psycopg/cursor.py" in file and func == "execute"]
        return sum(found)
    return max(found, default=0.0)


def part_rows(stats: pstats.Stats, parts: list[tuple], whole: float, plain_ms: float, count: int,
              unit: str) -> list[tuple]:
    """The table of parts: each part's ms per `unit` under cProfile, its share of `whole` (seconds), and that share
    of the wall time measured without the profiler."""
    whole = whole or 1e-9
    rows: list[tuple] = [("part", f"ms per {unit} (under cProfile)", "share", "ms without the profiler (share x total)")]
    for depth, label, fragment, name in parts:
        seconds = _cumulative(stats, fragment, name)
        rows.append(("  " * depth + label, f"{seconds * 1000 / count:.3f}", f"{seconds / whole:.0%}",
                     f"{seconds / whole * plain_ms:.2f}"))
    return rows


def profile_requests(app, client, call: Callable[[Any], None], warm: list, plain: list, profiled: list,
                     parts: list[tuple], route: str, unit: str) -> tuple[list[tuple], pstats.Stats]:
    """Warm up with `call` on `warm`; time it on `plain` as it is, counting SQL statements and ORM flushes; then on
    `profiled` under cProfile; and as many GET /healthz for scale. The table of parts with those figures added, and
    the profile."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from surveyd.extensions import db

    for item in warm:  # imports, caches, compiled statements
        call(item)
        client.get("/healthz")
    began = time.perf_counter()
    for _ in plain:
        assert client.get("/healthz").status_code == 200
    healthz_ms = (time.perf_counter() - began) * 1000 / len(plain)
    counts = {"statements": 0, "flushes": 0}
    with app.app_context():
        engine = db.engine

    def statement(*_):
        counts["statements"] += 1

    def flushed(*_):
        counts["flushes"] += 1

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(Session, "after_flush", flushed)
    began = time.perf_counter()
    for item in plain:
        call(item)
    plain_ms = (time.perf_counter() - began) * 1000 / len(plain)
    sa.event.remove(engine, "before_cursor_execute", statement)
    sa.event.remove(Session, "after_flush", flushed)
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for item in profiled:
        call(item)
    profiler.disable()
    profiled_ms = (time.perf_counter() - began) * 1000 / len(profiled)
    stats = pstats.Stats(profiler)
    rows = part_rows(stats, parts, _cumulative(stats, *parts[0][2:]), plain_ms, len(profiled), unit)
    rows.append((f"{route}, wall time", f"{profiled_ms:.3f}", "-", f"{plain_ms:.2f}"))
    rows.append(("GET /healthz, wall time, for scale", "-", "-", f"{healthz_ms:.2f}"))
    rows.append((f"SQL statements per {unit}", "-", "-", f"{counts['statements'] / len(plain):.1f}"))
    rows.append((f"ORM flushes per {unit}", "-", "-", f"{counts['flushes'] / len(plain):.1f}"))
    return rows, stats


def profile_parser(doc: str, count: str, default: int) -> argparse.ArgumentParser:
    """The command line every profile script takes: how many requests (--<count>), --database and --top."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(f"--{count}", type=int, default=default)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--top", type=int, default=25, help="also print the top N functions by own time")
    return parser


def report_profile(name: str, title: str, rows: list[tuple], extra: dict, stats: pstats.Stats, top: int) -> None:
    """Print and keep the table of parts (bench/results/<name>.json), then the top `top` functions by own time."""
    report(name, title, rows, extra)
    if top:
        print(f"\nTop {top} functions by own time:")
        stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    args = profile_parser(__doc__, "events", 2000).parse_args()
    app, client, headers = surveyd_with_trigger(args.database, "web", 0)

    def event(n: int):
        body = {"touchpoint": "order.delivered", "contact": {"external_id": f"p-{n}-{uuid.uuid4().hex[:8]}"},
                "attributes": {"order_id": f"A-{n}"}}
        answer = client.post("/api/v1/events", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code == 202, answer.get_data(as_text=True)

    rows, stats = profile_requests(app, client, event, [-n - 1 for n in range(50)],
                                   [args.events + n for n in range(args.events)], list(range(args.events)),
                                   PARTS, "POST /api/v1/events", "event")
    report_profile(f"profile-ingest-{args.database}", f"POST /api/v1/events in one process, {args.database}, "
                   f"{args.events} events", rows, {"events": args.events}, stats, args.top)


if __name__ == "__main__":
    main()
