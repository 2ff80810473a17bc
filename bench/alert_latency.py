"""Alert latency: from an answer's commit until the agent's provider (email, Slack) holds the notification.

A detractor answer (NPS 2) raises an alert, and the alert's notifications to an email address and a
Slack webhook are written in the answer's transaction; after the commit their ids go to the
process's sender (threads in `serve`, Celery tasks on `<queue>.alerts` at scale), and the relay's
sweep (every 1 s) hands out any row that is due and not held. The aim: p99 under 1 s.

N events (each with its own contact "Bench 0042") plan N web dispatches; their links come back in
the 202s. Clients answer them at --rate answers/s (POST /s/<token>, score=2). The local SMTP server
and Slack receiver (bench/alert_receivers.py) stamp each message with time.time() and the contact's
name. Latency = receive time - arrival of the answer's 200, which comes a few ms after the commit
(so latencies are that much short; the gap from the alert's created_at to the 200 bounds it). A
warm-up of --warmup answers is delivered first, not counted. Every alert must reach each target
exactly once; a digest (a burst folded for a Slack webhook) counts for every alert the database says
it carries. A moved due_at in the database marks a row the sender put back (rate limit, retry) for
the sweep.

`--mode embedded`: one `surveyd serve` on SQLite. `--mode scaled`: PostgreSQL + Redis broker,
`surveyd serve` plus --workers `surveyd worker` processes.

    .venv/bin/python bench/alert_latency.py [--mode embedded|scaled] [--count 300] [--rate 10] [--warmup 20]
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from datetime import UTC
from urllib.parse import urlsplit

import alert_receivers
import common
from loadgen import percentile

NAME = re.compile(r"Bench (\d+)")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SETTLE_SECONDS = 3.0  # after the last delivery: over two sweeps, for a late duplicate to show up


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--count", type=int, default=300, help="answers measured, one alert each (default 300)")
    parser.add_argument("--rate", type=float, default=10.0, help="answers per second (default 10)")
    parser.add_argument("--warmup", type=int, default=20, help="answers before the measured ones (default 20)")
    parser.add_argument("--targets", default="email,slack", help="alert targets, comma-separated (default email,slack)")
    parser.add_argument("--clients", type=int, default=16, help="answering client threads (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="surveyd worker processes in scaled mode (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per surveyd worker (default 8)")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis db for scaled mode, flushed (default 15)")
    args = parser.parse_args(argv)
    args.targets = [t for t in ("email", "slack") if t in args.targets.split(",")]
    if not args.targets:
        parser.error("--targets: email, slack or both")
    return args


def start_surveyd(bench: common.Bench, args, smtp) -> tuple[str, str, str]:
    """surveyd in the chosen mode, sending email to the local SMTP server; (base URL, API key, database URL)."""
    port = common.free_port()
    url = bench.postgres() if args.mode == "scaled" else f"sqlite:///{bench.tmp / 'bench.sqlite3'}"
    extra = {"SURVEYD_SANDBOX": "0", "SURVEYD_SMTP_HOST": smtp.host, "SURVEYD_SMTP_PORT": smtp.port,
             "SURVEYD_SMTP_STARTTLS": "0", "SURVEYD_MAIL_FROM": "alerts@bench.example",
             "SURVEYD_OUTBOUND_ALLOW_PRIVATE": "1"}
    if args.mode == "scaled":
        extra.update(SURVEYD_BROKER_URL=bench.redis(args.redis_db), SURVEYD_QUEUE=f"bench-{bench.tmp.name}")
    env = common.surveyd_env(url, port, **extra)
    key = common.create_api_key(env)
    base = bench.serve(env, port)
    for i in range(args.workers if args.mode == "scaled" else 0):
        bench.worker(env, f"worker{i + 1}", args.concurrency)
    return base, key, url


def create_links(base: str, key: str, targets: list[str], slack_url: str, total: int) -> list[str]:
    """The survey with its email and/or Slack alert targets, a web trigger, and `total` events; each one's link."""
    notify = [{"channel": "email", "to": "agents@bench.example"}, {"channel": "slack", "url": slack_url}]
    notify = [target for target in notify if target["channel"] in targets]
    status, survey = common.call(base, key, "POST", "/api/v1/surveys", {
        "name": "Bench NPS", "kind": "nps", "locales": ["en"], "alert": {"notify": notify}})
    assert status == 201, survey
    status, trigger = common.call(base, key, "POST", "/api/v1/triggers", {
        "touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["web"]})
    assert status == 201, trigger
    links: list[str] = [""] * total

    def post(conn, i: int, _stop) -> None:
        body = {"touchpoint": "order.delivered", "contact": {"external_id": f"bench-{i:04d}", "name": f"Bench {i:04d}"}}
        status, answer = common.call(base, key, "POST", "/api/v1/events", body, {"Idempotency-Key": f"a{i}"}, conn=conn)
        assert status == 202 and answer["dispatches"], (status, answer)
        links[i] = answer["dispatches"][0]["url"]

    common.parallel(base, 8, list(range(total)), post)
    return links


def answer_all(base: str, links: dict[int, str], rate: float, clients: int) -> dict[int, tuple[float, float]]:
    """POST score=2 to each link, paced at `rate` per second; index -> (request sent, 200 received), wall clock."""
    answered: dict[int, tuple[float, float]] = {}
    start = time.monotonic() + 0.2

    def post(conn, item, stop) -> None:
        k, (i, link) = item
        if stop.wait(max(0.0, start + k / rate - time.monotonic())):
            return
        sent = time.time()
        conn.request("POST", urlsplit(link).path, body=b"score=2", headers=FORM)
        response = conn.getresponse()
        response.read()
        done = time.time()
        assert response.status == 200, (i, response.status)
        answered[i] = (sent, done)

    common.parallel(base, clients, list(enumerate(sorted(links.items()))), post)
    return answered


def notification_rows(url: str) -> list[dict]:
    """Every notification row with its contact's number, status, tries and whether its due time was moved."""
    import sqlalchemy as sa

    from surveyd.models import Alert, Contact, Notification

    n, engine = Notification.__table__, sa.create_engine(url)
    query = (sa.select(n.c.id, n.c.alert_id, n.c.event, n.c.channel, n.c.status, n.c.attempts, n.c.created_at,
                       n.c.due_at, n.c.target, n.c.provider_message_id, Contact.__table__.c.name,
                       Alert.__table__.c.created_at.label("raised_at"))
             .join(Alert.__table__, Alert.__table__.c.id == n.c.alert_id)
             .join(Contact.__table__, Contact.__table__.c.id == Alert.__table__.c.contact_id))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    engine.dispose()
    for row in rows:
        row["index"] = int(NAME.search(row.pop("name")).group(1))
        row["status"] = getattr(row["status"], "value", row["status"])
        row["deferred"] = (row.pop("due_at") - row.pop("created_at")).total_seconds() > 0.05
        raised = row["raised_at"]  # SQLite gives naive UTC
        row["raised_at"] = (raised.replace(tzinfo=UTC) if raised.tzinfo is None else raised).timestamp()
    return rows


def carriers(rows: list[dict], channel: str) -> tuple[dict[int, int], dict[int, list[int]]]:
    """For a channel's digests: alert number -> the digest that carried it, digest id -> the alert numbers."""
    number = {r["alert_id"]: r["index"] for r in rows}
    mine = [r for r in rows if r["channel"] == channel]
    folded = {r["index"]: int(r["provider_message_id"].split(":")[1]) for r in mine if r["status"] == "folded"}
    return folded, {r["id"]: [number[a] for a in r["target"]["alert_ids"]] for r in mine if r["event"] == "digest"}


def delivered(receivers: dict, url: str, total: int, timeout: float) -> bool:
    """Wait until, for every target, the database has each alert sent (alone or in a sent digest) and the receiver
    holds every message the database calls sent; progress every 10 s; False after timeout."""
    deadline, shown = time.monotonic() + timeout, time.monotonic()
    while True:
        rows, counts = notification_rows(url), {name: r.ask("count") for name, r in receivers.items()}
        done = {}
        for name in receivers:
            mine = [r for r in rows if r["channel"] == name]
            sent_digests = {r["id"] for r in mine if r["event"] == "digest" and r["status"] == "sent"}
            told = sum(r["status"] == "sent" or (r["status"] == "folded" and int(
                r["provider_message_id"].split(":")[1]) in sent_digests) for r in mine if r["event"] != "digest")
            done[name] = told if counts[name] >= sum(r["status"] == "sent" for r in mine) else 0
        if min(done.values()) >= total:
            return True
        if time.monotonic() > deadline:
            print(f"after {timeout:.0f} s the targets were told of {done} of {total} alerts", flush=True)
            return False
        if time.monotonic() - shown >= 10:
            print(f"  told of {done} of {total} alerts ({counts} messages) ...", flush=True)
            shown = time.monotonic()
        time.sleep(0.5)


def measure(messages: list, answered: dict, expected: set[int], rows: list[dict], channel: str) -> dict:
    """Latencies and the exactly-once check of one target, from its receiver's messages and the database."""
    folded, digests = carriers(rows, channel)
    seen: Counter = Counter()
    by_alert, unknown, digest_messages = {}, 0, 0
    for at, text in sorted(messages):
        names = {int(n) for n in NAME.findall(text)} & expected
        carried = {folded[i] for i in names if i in folded}
        if len(carried) == 1:  # a digest: it carries every alert folded into it, named or counted
            names, digest_messages = set(digests[carried.pop()]), digest_messages + 1
        elif len(names) != 1 or carried:
            unknown += 1
            continue
        for index in names:
            seen[index] += 1
            if index in answered and seen[index] == 1:
                by_alert[index] = at - answered[index][1]
    latencies = list(by_alert.values())
    mine = [r for r in rows if r["channel"] == channel and r["event"] != "digest" and r["index"] in answered]
    return {"count": len(latencies), "messages": len(messages), "missing": len(expected - set(seen)),
            "duplicates": sum(c - 1 for c in seen.values()), "unknown": unknown,
            "exactly_once": set(seen) == expected and max(seen.values(), default=1) == 1 and not unknown,
            **{f"p{q}_ms": percentile(latencies, q) * 1000 for q in (50, 95, 99)},
            "max_ms": max(latencies, default=float("nan")) * 1000,
            "within_1s": sum(x <= 1.0 for x in latencies), "over_1s": sum(x > 1.0 for x in latencies),
            "deferred": sum(r["deferred"] for r in mine), "retried": sum(r["attempts"] > 1 for r in mine),
            "folded": sum(r["status"] == "folded" for r in mine), "digest_messages": digest_messages,
            "not_sent": sum(r["status"] not in ("sent", "folded") for r in mine),
            "latency_ms_by_alert": {i: round(x * 1000, 1) for i, x in sorted(by_alert.items())}}


def run(bench: common.Bench, args) -> dict:
    """Start everything, plan the links, warm up, answer at the rate, wait for every message, measure."""
    from bots.slack_webhook import PER_SECOND as SLACK_RATE

    smtp, slack = alert_receivers.start(bench)
    receivers = {name: r for name, r in (("email", smtp), ("slack", slack)) if name in args.targets}
    base, key, url = start_surveyd(bench, args, smtp)
    total = args.warmup + args.count
    print(f"{args.mode}: planning {total} web dispatches over POST /events ...", flush=True)
    links = create_links(base, key, args.targets, slack.url, total)
    print(f"warm-up: {args.warmup} answers, waiting until every target has them ...", flush=True)
    answer_all(base, dict(enumerate(links[:args.warmup])), args.rate, args.clients)
    slack_rate = SLACK_RATE if "slack" in args.targets else args.rate
    if not delivered(receivers, url, args.warmup, 120 + args.warmup / slack_rate):
        raise RuntimeError("the warm-up's notifications did not all arrive")
    time.sleep(3.0)  # the providers' rate buckets (Slack: 3 at 1/s) fill up again
    print(f"measuring: {args.count} answers at {args.rate:g}/s ...", flush=True)
    began = time.monotonic()
    answered = answer_all(base, {i: links[i] for i in range(args.warmup, total)}, args.rate, args.clients)
    answering = time.monotonic() - began
    delivered(receivers, url, total, 120 + 2 * args.count / slack_rate)
    time.sleep(SETTLE_SECONDS)
    rows = notification_rows(url)
    got = {name: r.ask("received") for name, r in receivers.items()}
    answer_ms = sorted((done - sent) * 1000 for sent, done in answered.values())
    # The commit lies between the alert's created_at (in the transaction) and the 200: latencies measured
    # from the 200 are short by less than this gap.
    raised = {r["index"]: r["raised_at"] for r in rows}
    gap_ms = sorted((answered[i][1] - raised[i]) * 1000 for i in answered)
    return {"targets": {name: measure(got[name]["messages"], answered, set(range(total)), rows, name)
                        for name in receivers},
            "answers": {"count": len(answered), "seconds": answering, "per_second": len(answered) / answering,
                        "p50_ms": percentile(answer_ms, 50), "p99_ms": percentile(answer_ms, 99),
                        "max_ms": answer_ms[-1], "raised_to_200_p50_ms": percentile(gap_ms, 50),
                        "raised_to_200_p99_ms": percentile(gap_ms, 99)},
            "smtp_connections": got["email"]["connections"] if "email" in got else None, "log_errors": bench.log_errors()}


def summarize(args, result: dict) -> bool:
    """Print the checks and the table, write the JSON; whether every alert reached each target exactly once."""
    for line in result["log_errors"][:3]:
        print(f"surveyd logged an ERROR ({len(result['log_errors'])} in all): {line}")
    answers, ok = result["answers"], True
    print(f"answers: {answers['count']} at {answers['per_second']:.1f}/s, POST /s/<token> p50 "
          f"{answers['p50_ms']:.0f} ms, p99 {answers['p99_ms']:.0f} ms, max {answers['max_ms']:.0f} ms; "
          f"alert raised -> 200 p50 {answers['raised_to_200_p50_ms']:.1f} ms, p99 {answers['raised_to_200_p99_ms']:.1f} ms; "
          f"SMTP connections opened: {result['smtp_connections']}")
    rows: list[tuple] = [("target", "alerts", "p50 ms", "p95 ms", "p99 ms", "max ms", "<= 1 s", "> 1 s",
                          "deferred (sweep)", "in digests", "exactly once")]
    for name, t in result["targets"].items():
        once = "yes" if t["exactly_once"] else f"NO: {t['missing']} missing, {t['duplicates']} twice, {t['unknown']} unknown"
        ok = ok and t["exactly_once"] and not t["not_sent"]
        rows.append((name, t["count"], *(f"{t[k]:.0f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
                     t["within_1s"], t["over_1s"], t["deferred"], t["folded"], once))
        print(f"exactly-once check, {name}: {t['messages']} messages for {args.warmup + args.count} alerts -> "
              f"{'OK' if t['exactly_once'] else 'FAILED'}; {t['not_sent']} rows not sent, {t['retried']} retried, "
              f"{t['folded']} folded into {t['digest_messages']} digests")
    setup = "SQLite, 1 serve" if args.mode == "embedded" else f"PostgreSQL + Redis, 1 serve + {args.workers} workers"
    worst = max(t["p99_ms"] for t in result["targets"].values())
    title = (f"alert latency, {args.mode} ({setup}), {args.count} detractor answers at {args.rate:g}/s: "
             f"answer committed -> {' and '.join(args.targets)} provider has it; worst p99 {worst:.0f} ms (aim < 1000)")
    name = f"alert-latency-{args.mode}" + (f"-rate{args.rate:g}" if args.rate != 10 else "") + (
        f"-{args.targets[0]}-only" if len(args.targets) == 1 else "")
    common.report(name, title, rows, {"options": vars(args), "exactly_once": ok, **result})
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark in the chosen mode; 1 when an alert was lost, sent twice or not marked sent."""
    args = parse_args(argv)
    with common.Bench() as bench:
        result = run(bench, args)
    return 0 if summarize(args, result) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; every process, database and file it started is gone")
