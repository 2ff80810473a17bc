"""The responses export: rows/s and peak memory of GET /responses/export's producer, CSV and XLSX, at two sizes.

Loads N responses (each with a comment and event attributes) into a fresh SQLite file with bulk inserts, then
runs each export in a process of its own, writing every chunk to nowhere, and reports its time and its peak RSS
(VmRSS, sampled every 20 chunks) beside the same process's RSS just before the export began. Constant memory means the peak does not grow
with N.

    .venv/bin/python bench/export.py                     # 20,000 and 200,000 responses (~2 min)
    .venv/bin/python bench/export.py --rows 20000 1000000
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
SECRET = "bench-secret-key-0123456789abcdef"


def _app(url: str):
    from surveyd import create_app

    return create_app({"SURVEYD_SECRET_KEY": SECRET, "SURVEYD_DATABASE_URL": url,
                       "SURVEYD_PUBLIC_URL": "http://127.0.0.1:1", "SURVEYD_SANDBOX": "1"},
                      instance_path=tempfile.mkdtemp(prefix="surveyd-bench-export-"))


def load(url: str, rows: int) -> int:
    """A survey with `rows` answered responses (score and comment), in batches of 10,000; its id."""
    import sqlalchemy as sa

    from surveyd.extensions import db
    from surveyd.models import Answer, Contact, Dispatch, Event, Response
    from surveyd.server import apply_migrations
    from surveyd.services.design import surveys, touchpoints

    app = _app(url)
    apply_migrations(app, quiet=True)
    with app.app_context():
        survey = surveys.create_survey({"kind": "nps", "template": "nps", "locales": ["en", "fa"], "name": "Bench"})
        version_id, survey_id = survey.latest.id, survey.id
        touchpoint_id = touchpoints.ensure_touchpoint("order.delivered").id
        db.session.commit()
        db.session.execute(sa.insert(Contact), [{"external_id": f"c-{i}", "name": f"Customer {i}", "attributes": {}}
                                                for i in range(1000)])
        contact_ids = list(db.session.scalars(sa.select(Contact.id).order_by(Contact.id)))
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for first in range(0, rows, 10_000):
            numbers = range(first, min(rows, first + 10_000))
            moment = [start + timedelta(seconds=n) for n in numbers]
            events = db.session.execute(sa.insert(Event).returning(Event.id), [
                {"touchpoint_id": touchpoint_id, "contact_id": contact_ids[n % 1000], "attributes":
                 {"order_id": f"A-{n}", "store": "Kadıköy"}, "occurred_at": m, "received_at": m}
                for n, m in zip(numbers, moment)]).scalars().all()
            dispatches = db.session.execute(sa.insert(Dispatch).returning(Dispatch.id), [
                {"event_id": e, "survey_id": survey_id, "survey_version_id": version_id,
                 "contact_id": contact_ids[n % 1000], "channel": "web", "purpose": "invitation", "status": "answered",
                 "locale": "en", "token_nonce": f"n{n:030d}", "due_at": m, "expires_at": m + timedelta(days=14),
                 "sent_at": m} for n, m, e in zip(numbers, moment, events)]).scalars().all()
            responses = db.session.execute(sa.insert(Response).returning(Response.id), [
                {"dispatch_id": d, "survey_id": survey_id, "survey_version_id": version_id,
                 "contact_id": contact_ids[n % 1000], "event_id": e, "touchpoint_id": touchpoint_id, "channel": "web",
                 "locale": "en", "score": n % 11, "completed": True, "created_at": m, "updated_at": m}
                for n, m, e, d in zip(numbers, moment, events, dispatches)]).scalars().all()
            db.session.execute(sa.insert(Answer), [
                {"response_id": r, "question_id": "improve", "value_text": f"Comment number {n}, =not a formula",
                 "answered_at": m} for n, m, r in zip(numbers, moment, responses)])
            db.session.commit()
        db.session.remove()
    return survey_id


def child(url: str, survey_id: int, kind: str) -> dict:
    """Run one export to nowhere in this process; time and memory."""
    from surveyd.extensions import db
    from surveyd.services.design import surveys
    from surveyd.services.insight import export

    app = _app(url)
    with app.app_context():
        surveys.get_survey(survey_id)  # the first query's cost (connection, mappers) is not the export's
        before = _rss()
        began = time.perf_counter()
        table = export.table(surveys.get_survey(survey_id), None, None)
        chunks = export.csv_chunks(table) if kind == "csv" else export.xlsx_chunks(table)
        size, most = 0, before
        for count, chunk in enumerate(chunks):
            size += len(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
            if count % 20 == 0:
                most = max(most, _rss())
        elapsed = time.perf_counter() - began
        db.session.remove()
    return {"seconds": round(elapsed, 2), "bytes": size, "rss_before_mb": round(before / 1024, 1),
            "rss_peak_mb": round(max(most, _rss()) / 1024, 1)}


def _rss() -> int:
    """This process's resident memory now, in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--child", nargs=3, metavar=("URL", "SURVEY", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.child[2])))
        return
    lines = ["| responses | format | seconds | rows/s | size | RSS before | peak RSS |", "| --- | --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory(prefix="surveyd-bench-export-") as folder:
        for rows in args.rows:
            url = f"sqlite:///{folder}/export-{rows}.db"
            began = time.perf_counter()
            survey_id = load(url, rows)
            print(f"loaded {rows:,} responses in {time.perf_counter() - began:.0f} s", flush=True)
            for kind in ("csv", "xlsx"):
                out = subprocess.run([sys.executable, __file__, "--child", url, str(survey_id), kind],
                                     check=True, capture_output=True, text=True, cwd=REPO).stdout
                result = json.loads(out.strip().splitlines()[-1])
                lines.append(f"| {rows:,} | {kind} | {result['seconds']} | {rows / result['seconds']:,.0f} | "
                             f"{result['bytes'] / 1e6:.1f} MB | {result['rss_before_mb']} MB | {result['rss_peak_mb']} MB |")
                print(lines[-1], flush=True)
    table = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "export.md").write_text(f"SQLite, {datetime.now(timezone.utc):%Y-%m-%d}\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
