"""What a naive event endpoint keeps of /healthz on this stack: the yardstick for issue 17's ingest aim.

Not surveyd: a minimal Flask app, served by waitress with the threads `surveyd serve` has (8 + 50 for live
inboxes), answers `GET /healthz` as surveyd does and `POST /api/v1/events` the naive way. marshmallow checks the
body (a touchpoint and a contact's external id, as bench/ingest.py sends), one row (touchpoint, external id,
Idempotency-Key, time) is written, and the 202 carries its id. Nothing else: no contact, no planning, no link, no
stored answer for replays. The row is written

- `orm`: the Flask-SQLAlchemy way, a mapped object added and committed (what the issue called "a naive
  Flask-SQLAlchemy validate and insert one row endpoint");
- `core`: one SQLAlchemy Core `INSERT ... RETURNING id` on the session, then the commit;
- `dbapi`: the same INSERT on the driver's own cursor (sqlite3 or psycopg), no SQLAlchemy in the request.

SQLite runs in WAL with `synchronous=NORMAL`, as surveyd does. The load is bench/ingest.py's, from wrk: the same
16 connections, the same bodies and headers, /healthz first, then the events, on the same server.

    .venv/bin/python bench/ingest_floor.py [--variant orm|core|dbapi] [--database sqlite|postgresql]
                                           [--concurrency 16] [--seconds 15]
"""
from __future__ import annotations

import argparse
import sys

import common
import wrk

THREADS = 8 + 50  # surveyd serve: --threads 8, plus SURVEYD_CONSOLE_STREAMS (50) for live inboxes
KEY = "floor-key"


def make_app(database_url: str, variant: str):
    """The naive app: /healthz, and POST /api/v1/events writing one row the `variant` way."""
    import sqlalchemy as sa
    from flask import Flask, jsonify, request
    from flask_sqlalchemy import SQLAlchemy
    from marshmallow import Schema, fields, validate

    app = Flask("floor")
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    db = SQLAlchemy(app)

    class Event(db.Model):
        __tablename__ = "floor_events"
        id = db.Column(db.Integer, primary_key=True)
        touchpoint = db.Column(db.String(120), nullable=False)
        external_id = db.Column(db.String(200), nullable=False)
        idempotency_key = db.Column(db.String(255), unique=True)
        received_at = db.Column(db.DateTime, nullable=False)

    class ContactSchema(Schema):
        external_id = fields.String(required=True, validate=validate.Length(1, 200))

    class EventSchema(Schema):
        touchpoint = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_.\-]{1,120}$"))
        contact = fields.Nested(ContactSchema, required=True)

    schema = EventSchema()
    insert = sa.insert(Event.__table__).returning(Event.__table__.c.id)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            @sa.event.listens_for(db.engine, "connect")
            def _wal(connection, _record):
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
        db.create_all()
        paramstyle = "?" if db.engine.dialect.name == "sqlite" else "%s"
        raw_insert = (f"INSERT INTO floor_events (touchpoint, external_id, idempotency_key, received_at) "
                      f"VALUES ({paramstyle}, {paramstyle}, {paramstyle}, {paramstyle}) RETURNING id")

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.post("/api/v1/events")
    def events():
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return jsonify(error="unauthorized"), 401
        errors = schema.validate(request.get_json(silent=True) or {})
        if errors:
            return jsonify(errors=errors), 422
        data = request.get_json()
        row = {"touchpoint": data["touchpoint"], "external_id": data["contact"]["external_id"],
               "idempotency_key": request.headers.get("Idempotency-Key"), "received_at": _now()}
        if variant == "orm":
            event = Event(**row)
            db.session.add(event)
            db.session.commit()
            event_id = event.id
        elif variant == "core":
            event_id = db.session.execute(insert, row).scalar_one()
            db.session.commit()
        else:
            connection = db.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(raw_insert, (row["touchpoint"], row["external_id"], row["idempotency_key"],
                                            row["received_at"].isoformat(sep=" ")))
                event_id = cursor.fetchone()[0]
                connection.commit()
            finally:
                connection.close()
        return jsonify(id=event_id, dispatches=[]), 202

    return app


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


def serve(database_url: str, variant: str, port: int) -> None:
    """The server process: the naive app under waitress."""
    from waitress import serve as waitress_serve

    waitress_serve(make_app(database_url, variant), host="127.0.0.1", port=port, threads=THREADS, ident="floor")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=["orm", "core", "dbapi"], default="orm")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--processes", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--serve", nargs=3, metavar=("URL", "VARIANT", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return 0
    if not wrk.available():
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    with common.Bench() as bench:
        url = bench.postgres() if args.database == "postgresql" else f"sqlite:///{bench.tmp / 'floor.sqlite3'}"
        port = common.free_port()
        proc = bench.popen("floor", [sys.executable, __file__, "--serve", url, args.variant, str(port)],
                           common.surveyd_env(url, port))
        common.wait_for_healthz(proc, port, "the naive server")
        address = ("127.0.0.1", port)
        runs = {}
        for phase, spec in (("healthz", {"kind": "healthz", "address": address, "expect": 200}),
                            ("events", {"kind": "event", "address": address, "expect": 202, "key": KEY,
                                        "touchpoint": "order.delivered", "prefix": "floor"})):
            print(f"{phase}: {args.concurrency} clients, {args.warmup:g}+{args.seconds:g} s ...", flush=True)
            runs[phase] = wrk.load(spec, args.concurrency, args.processes, args.seconds, args.warmup)
            if runs[phase]["errors"]:
                print(f"  {runs[phase]['errors']} errors, e.g. {runs[phase]['error_samples']}", file=sys.stderr)
        written = common.one_row(url, "SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM floor_events")
    ratio, rows = common.against_healthz(runs["healthz"], runs["events"], "POST /api/v1/events (naive)")
    title = (f"ingest floor: a naive endpoint ({args.variant}), {args.database}, {args.concurrency} clients (wrk), "
             f"waitress {THREADS} threads: events/healthz = {ratio:.2f}x")
    name = f"floor-ingest-{args.variant}-{args.database}" + (f"-{args.seconds:g}s" if args.seconds != 15 else "")
    common.report(name, title, rows, {"ratio": ratio, "healthz": runs["healthz"], "events": runs["events"],
                                      "options": vars(args), "rows_written": written[0]})
    print(f"  rows written over warm-up and measurement: {written[0]}, distinct keys {written[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
