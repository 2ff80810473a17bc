"""Insight queries at scale: metrics, trend, breakdowns, journey, drill-down (and funnel) over N responses.

Builds a fresh database (a SQLite file in a temp dir, or the PostgreSQL database `surveyd_bench` on 127.0.0.1,
dropped and recreated), runs the real migrations, bulk-loads N responses spread like real traffic (three surveys
NPS/CSAT/CES, 20 touchpoints over the five journey stages, 4 channels, 3 locales, 12 months, an `agent` event
attribute from 50 agents, a contact `segment`, a comment with a sentiment label on ~30%), then times each query
through the service functions inside an app context: the median of 5 runs after one warm-up.

    .venv/bin/python bench/insight.py --backend sqlite --rows 1000000
    .venv/bin/python bench/insight.py --backend postgresql --rows 1000000
    .venv/bin/python bench/insight.py --backend sqlite --db /tmp/x.sqlite --no-load --label after   # time again

Writes bench/results/insight-<backend>-<label>.json and rebuilds bench/results/insight.md from every such file.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import RESULTS, report  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/surveyd_bench"
START = datetime(2025, 12, 1, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, tzinfo=timezone.utc)
STAGES = ("awareness", "consideration", "purchase", "post_purchase", "support")
CHANNELS = ("sms", "email", "telegram", "web")
LOCALES = ("en", "tr", "fa")
KINDS = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
BATCH = 20_000


def _app(url: str):
    from surveyd import create_app

    return create_app({"SURVEYD_SECRET_KEY": SECRET, "SURVEYD_DATABASE_URL": url,
                       "SURVEYD_PUBLIC_URL": "http://127.0.0.1:1", "SURVEYD_SANDBOX": "1"},
                      instance_path=tempfile.mkdtemp(prefix="surveyd-bench-insight-"))


def fresh_database(backend: str, path: str | None, name: str = "surveyd_bench") -> str:
    """A new empty database's URL: a SQLite file (at `path`, else in a new temp dir), or the PostgreSQL database
    `name` on 127.0.0.1, dropped and created again."""
    import sqlalchemy as sa

    if backend == "sqlite":
        file = Path(path or Path(tempfile.mkdtemp(prefix="surveyd-bench-")) / "bench.sqlite")
        file.unlink(missing_ok=True)
        return f"sqlite:///{file}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + f"/{name}"


def _moment(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(int((END - START).total_seconds())))


def load(app, rows: int) -> None:
    """Surveys, touchpoints, 10,000 contacts and `rows` answered responses with their events and dispatches."""
    import sqlalchemy as sa

    from surveyd.extensions import db
    from surveyd.models import Answer, Contact, Dispatch, Event, Response, Touchpoint
    from surveyd.services.design import surveys

    rng = random.Random(7)
    with app.app_context():
        made = [surveys.create_survey({"kind": kind, "template": kind, "locales": list(LOCALES), "name": kind})
                for kind in KINDS]
        db.session.commit()
        plan = [(s.id, s.latest.id, s.kind.value) for s in made]
        now = datetime.now(timezone.utc)
        db.session.execute(sa.insert(Touchpoint), [
            {"id": 1000 + i, "key": f"tp.{i:02d}", "stage": STAGES[i % 5], "created_at": now} for i in range(20)])
        db.session.execute(sa.insert(Contact), [
            {"id": 1 + i, "external_id": f"c-{i}", "attributes": {"segment": ("gold", "silver", "bronze", "new")[i % 4]},
             "created_at": now, "updated_at": now} for i in range(10_000)])
        db.session.commit()
        engine = db.engine
        began = time.monotonic()
        for first in range(0, rows, BATCH):
            events, dispatches, responses, answers = [], [], [], []
            for n in range(first, min(rows, first + BATCH)):
                rid = n + 1
                survey_id, version_id, kind = plan[n % 3]
                low, high = KINDS[kind]
                moment = _moment(rng)
                contact = 1 + rng.randrange(10_000)
                touchpoint = 1000 + rng.randrange(20)
                channel, locale = rng.choice(CHANNELS), rng.choice(LOCALES)
                events.append({"id": rid, "touchpoint_id": touchpoint, "contact_id": contact, "occurred_at": moment,
                               "received_at": moment, "attributes": {"agent": f"agent-{rng.randrange(50):02d}",
                                                                     "order_id": f"A-{n}"}})
                dispatches.append({"id": rid, "event_id": rid, "survey_id": survey_id, "survey_version_id": version_id,
                                   "contact_id": contact, "channel": channel, "purpose": "invitation",
                                   "status": "answered", "locale": locale, "token_nonce": f"n{n:030d}",
                                   "due_at": moment, "expires_at": moment + timedelta(days=14), "sent_at": moment,
                                   "attempts": 1, "reconcile": False, "possible_duplicate": False,
                                   "created_at": moment, "updated_at": moment})
                responses.append({"id": rid, "dispatch_id": rid, "survey_id": survey_id, "survey_version_id": version_id,
                                  "contact_id": contact, "event_id": rid, "touchpoint_id": touchpoint,
                                  "channel": channel, "locale": locale, "score": rng.randint(low, high),
                                  "completed": True, "created_at": moment, "updated_at": moment})
                if rng.random() < 0.3:
                    answers.append({"response_id": rid, "question_id": "improve", "value_text": f"Comment {n}",
                                    "sentiment": rng.choice(("negative", "neutral", "positive")),
                                    "sentiment_score": 0.0, "answered_at": moment})
            with engine.begin() as conn:
                for table, batch in ((Event, events), (Dispatch, dispatches), (Response, responses), (Answer, answers)):
                    conn.execute(sa.insert(table.__table__), batch)
            done = min(rows, first + BATCH)
            print(f"\r  loaded {done:,}/{rows:,} ({done / (time.monotonic() - began):,.0f}/s)", end="", flush=True)
        print()
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                for table in ("events", "dispatches", "responses", "touchpoints", "contacts"):
                    conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
    analyze(app)


def analyze(app) -> None:
    """Fresh planner statistics (and, on PostgreSQL, the visibility map index-only scans need), as autovacuum
    would have them on a live database."""
    from surveyd.extensions import db

    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")


def build_rollups(app) -> float:
    """The score rollups built from scratch (as the relay's chore would, batch by batch); seconds taken."""
    from surveyd.extensions import db
    from surveyd.models import RollupMark
    from surveyd.services.insight import rollups

    with app.app_context():
        began = time.monotonic()
        while rollups.refresh(batches=50) or db.session.scalar(db.select(db.func.count()).select_from(RollupMark)):
            pass
        db.session.remove()
    return time.monotonic() - began


def _time(work) -> float:
    work()  # warm-up: caches, query plans
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        work()
        runs.append((time.perf_counter() - began) * 1000)
    return statistics.median(runs)


def measure(app) -> list[tuple]:
    """Median milliseconds of each insight query, through the service functions."""
    import inspect

    import sqlalchemy as sa

    from surveyd.extensions import db
    from surveyd.models import Response, Survey
    from surveyd.services.insight import drilldown, journey, metrics
    from surveyd.services.runtime import settings

    try:
        from surveyd.services.insight import funnel
    except ImportError:  # funnel.py lands with another change; time it once it exists
        funnel = None
    rows: list[tuple] = [("query", "median ms", "result")]
    with app.app_context():
        nps = db.session.scalars(db.select(Survey).order_by(Survey.id)).first()
        order = settings().journey_stages
        zoned = "tz" in inspect.signature(metrics.survey_metrics).parameters

        def metric(interval=None, group_by=None, **tz):
            return metrics.survey_metrics(nps, START, END, interval, group_by, **tz)

        cases = [
            ("metrics overall (1 year)", lambda: metric(), lambda r: f"n={r['overall']['n']}"),
            ("weekly trend (1 year)", lambda: metric("week"), lambda r: f"{len(r['series'])} weeks"),
            ("daily trend (1 year)", lambda: metric("day"), lambda r: f"{len(r['series'])} days"),
            ("breakdown by touchpoint", lambda: metric(None, "touchpoint"), lambda r: f"{len(r['groups'])} groups"),
            ("breakdown by stage", lambda: metric(None, "stage"), lambda r: f"{len(r['groups'])} groups"),
            ("breakdown by agent", lambda: metric(None, "agent"), lambda r: f"{len(r['groups'])} groups"),
            ("breakdown by contact.segment", lambda: metric(None, "contact.segment"),
             lambda r: f"{len(r['groups'])} groups"),
        ]
        if zoned:
            cases += [
                ("weekly trend, Asia/Tehran", lambda: metric("week", tz="Asia/Tehran"),
                 lambda r: f"{len(r['series'])} weeks"),
                ("monthly trend, America/New_York", lambda: metric("month", tz="America/New_York"),
                 lambda r: f"{len(r['series'])} months"),
                ("breakdown by sentiment", lambda: metric(None, "sentiment"), lambda r: f"{len(r['groups'])} groups"),
            ]
        cases += [
            ("journey (1 year)", lambda: journey.journey(START, END, order), lambda r: f"{len(r['stages'])} stages"),
            ("drill-down page 1 + count", lambda: drilldown.responses(nps, drilldown.Filters(since=START, until=END)),
             lambda r: f"total={r.total}"),
        ]
        cases.append(("weekly trend, one day changed since the refresh", lambda: metric("week"),
                      lambda r: f"{len(r['series'])} weeks"))
        if funnel is not None:
            cases.append(("funnel by channel", lambda: funnel.funnel(nps, START, END, "channel"), lambda r: "ok"))
        else:
            rows.append(("funnel", "-", "funnel.py not present yet"))
        for name, work, describe in cases:
            if name.startswith("weekly trend, one day changed"):  # a day the rollups must read from responses
                db.session.execute(sa.update(Response).where(Response.id == db.session.scalar(
                    sa.select(sa.func.min(Response.id)).where(Response.survey_id == nps.id))).values(score=0))
                db.session.commit()
            ms = _time(work)
            rows.append((name, f"{ms:.1f}", describe(work())))
            db.session.rollback()
            print(f"  {name}: {ms:.1f} ms", flush=True)
    return rows


def markdown() -> Path:
    """bench/results/insight.md from every insight-<backend>-<label>.json."""
    lines = ["# Insight queries at scale", "", "Written by bench/insight.py; median of 5 runs after a warm-up.", ""]
    for path in sorted(RESULTS.glob("insight-*.json")):
        record = json.loads(path.read_text())
        lines += [f"## {record['title']}", "",
                  f"{record['machine']['when']}, {record['machine']['nproc']} cores, load {record['machine']['loadavg_at_end']}; "
                  f"loading took {record.get('load_seconds', '-')} s; building the rollups "
                  f"{record.get('rollup_seconds', '-')} s", "",
                  "| " + " | ".join(record["header"]) + " |", "|" + " --- |" * len(record["header"])]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in record["rows"]]
        lines.append("")
    out = RESULTS / "insight.md"
    out.write_text("\n".join(lines))
    return out


def main() -> None:
    """Load (unless --no-load), time, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", help="SQLite file to use (default: a new temp dir)")
    parser.add_argument("--no-load", action="store_true", help="time an existing database (--db, or surveyd_bench)")
    parser.add_argument("--label", default="current", help="names the result file, e.g. before/after")
    args = parser.parse_args()
    from surveyd.server import apply_migrations

    if args.no_load:
        url = f"sqlite:///{args.db}" if args.backend == "sqlite" else PG_URL
        app = _app(url)
        apply_migrations(app, quiet=True)  # an index added since the load
        analyze(app)
        load_seconds = "-"
    else:
        url = fresh_database(args.backend, args.db)
        print(f"database: {url}")
        app = _app(url)
        apply_migrations(app, quiet=True)
        began = time.monotonic()
        load(app, args.rows)
        load_seconds = round(time.monotonic() - began)
    rollup_seconds = round(build_rollups(app), 1)
    print(f"  rollups built in {rollup_seconds} s", flush=True)
    rows = measure(app)
    title = f"{args.backend}, {args.rows:,} responses ({args.label})"
    report(f"insight-{args.backend}-{args.label}", title, rows, {"load_seconds": load_seconds, "rollup_seconds": rollup_seconds, "url": url})
    print(f"  -> {markdown().relative_to(REPO)}")


if __name__ == "__main__":
    main()
