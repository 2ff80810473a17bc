"""Dispatch benchmark: SMS dispatches/s from surveyd into a local fake Twilio, against the raw SDK rate.

Sending, not ingest, is timed. The trigger has `delay_seconds: 3600`, so POST /events plans every
dispatch as `scheduled` an hour ahead and nothing goes out while the events come in (ingest is
bench/ingest.py's job). The script then sets `due_at = now` straight in the database for a warm-up
batch (2 x the send threads) and waits until it is sent, so every process is up and connected, then
does the same for the N measured rows in one UPDATE. The clock runs from that commit until the
database shows all N sent (counted with SQLAlchemy every 0.1 s). The fake's receive times give the
longest pause and, with --rate, the steady rate after the bucket's initial burst.

Baseline, same run, before surveyd starts: as many sender threads, in as many processes, push N
messages of the same shape into the same fake through the real SDK (TwilioSmsChannel.send).
Afterwards each dispatch's signed link must be in exactly one message at the fake.

`--mode embedded`: one `surveyd serve` on SQLite with SURVEYD_DISPATCH_CONCURRENCY send threads.
`--mode scaled`: PostgreSQL + Redis broker; `surveyd serve` (web only) plus --workers `surveyd
worker` processes of --concurrency threads. Limits are off (SURVEYD_TWILIO_RATE=0) unless --rate R.

    .venv/bin/python bench/dispatch.py [--mode embedded|scaled] [--count 2000] [--rate R]
"""
from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from collections import Counter

import common
from sms_baseline import SENDER, baseline

PENDING = ("scheduled", "queued", "sending", "unknown")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--count", type=int, default=None, help="dispatches measured (default 2000, or 10 x rate)")
    parser.add_argument("--concurrency", type=int, default=8, help="send threads per surveyd process (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="surveyd worker processes in scaled mode (default 2)")
    parser.add_argument("--rate", type=float, default=0, help="SURVEYD_TWILIO_RATE (default 0 = no limit)")
    parser.add_argument("--poll", type=float, default=0.2, help="SURVEYD_RELAY_POLL_SECONDS (default 0.2)")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis db for scaled mode, flushed (default 15)")
    args = parser.parse_args(argv)
    args.count = args.count or (int(args.rate * 10) if args.rate else 2000)
    return args


def create_dispatches(base: str, key: str, total: int) -> None:
    """A survey, an SMS trigger an hour delayed, and `total` events for distinct phones (8 clients)."""
    status, survey = common.call(base, key, "POST", "/api/v1/surveys",
                                 {"name": "Bench NPS", "kind": "nps", "locales": ["en"]})
    assert status == 201, survey
    status, trigger = common.call(base, key, "POST", "/api/v1/triggers", {
        "touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["sms"], "delay_seconds": 3600})
    assert status == 201, trigger
    host, port = base.removeprefix("http://").split(":")

    stop, failures = threading.Event(), []

    def post(offset: int) -> None:
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            for i in range(offset, total, 8):
                if stop.is_set():
                    return
                body = {"touchpoint": "order.delivered", "contact": {"external_id": f"d{i}", "phone": f"+1555{i:07d}"}}
                status, answer = common.call(base, key, "POST", "/api/v1/events", body,
                                             {"Idempotency-Key": f"d{i}"}, conn=conn)
                assert status == 202 and answer["dispatches"][0]["status"] == "scheduled", (status, answer)
        except Exception as error:
            failures.append(error)

    posters = [threading.Thread(target=post, args=(k,), daemon=True) for k in range(8)]
    for poster in posters:
        poster.start()
    try:
        for poster in posters:
            while poster.is_alive():
                poster.join(0.2)  # a short join keeps Ctrl-C responsive
    finally:
        stop.set()
    if failures:
        raise failures[0]


class Outbox:
    """Direct reads and the due-now update on the dispatches table."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        from surveyd.models import Dispatch

        self.sa, self.table = sa, Dispatch.__table__
        self.engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})

    def statuses(self) -> Counter:
        """Dispatch count per status."""
        sa, t = self.sa, self.table
        with self.engine.connect() as conn:
            return Counter(dict(conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status)).all()))

    def make_due(self, limit: int | None = None) -> None:
        """Set due_at = now on scheduled rows (the `limit` lowest ids, or all)."""
        from surveyd.models import utcnow

        sa, t = self.sa, self.table
        ids = sa.select(t.c.id).where(t.c.status == "scheduled").order_by(t.c.id).limit(limit)
        with self.engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.id.in_(ids.scalar_subquery())).values(due_at=utcnow()))

    def wait_sent(self, target: int, timeout: float) -> Counter:
        """Poll every 0.1 s until `target` dispatches are sent or nothing is pending; the last counts."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.statuses()
            if counts["sent"] + counts["delivered"] >= target or not sum(counts[s] for s in PENDING):
                return counts
            if time.monotonic() > deadline:
                raise TimeoutError(f"not all sent after {timeout:.0f} s: {dict(counts)}")
            time.sleep(0.1)

    def tokens(self) -> set[str]:
        """The signed link token of every dispatch."""
        from surveyd.services.tokens import sign

        with self.engine.connect() as conn:
            return {sign(n, common.SECRET) for n in conn.execute(self.sa.select(self.table.c.token_nonce)).scalars()}


def run_surveyd(bench: common.Bench, args, fake: common.FakeTwilioProcess) -> dict:
    """Start surveyd in the chosen mode, plan, warm up, release count dispatches, time them, check the fake."""
    port = common.free_port()
    url = bench.postgres() if args.mode == "scaled" else f"sqlite:///{bench.tmp / 'bench.sqlite3'}"
    extra = dict(SURVEYD_SANDBOX="0", SURVEYD_TWILIO_ACCOUNT_SID=fake.account_sid, SURVEYD_TWILIO_FROM=SENDER,
                 SURVEYD_TWILIO_AUTH_TOKEN=fake.auth_token, SURVEYD_TWILIO_API_BASE=fake.base_url,
                 SURVEYD_TWILIO_RATE=args.rate, SURVEYD_RELAY_POLL_SECONDS=args.poll,
                 SURVEYD_DISPATCH_CONCURRENCY=args.concurrency)
    if args.mode == "scaled":
        extra.update(SURVEYD_BROKER_URL=bench.redis(args.redis_db), SURVEYD_QUEUE=f"surveyd-bench-{bench.tmp.name}")
    env = common.surveyd_env(url, port, **extra)
    key = common.create_api_key(env)
    base = bench.serve(env, port)
    sending = {"serve": bench.served} if args.mode == "embedded" else {}  # the processes that send: their memory
    for i in range(args.workers if args.mode == "scaled" else 0):
        sending[f"worker{i + 1}"] = bench.worker(env, f"worker{i + 1}", args.concurrency)
    senders = args.concurrency * (args.workers if args.mode == "scaled" else 1)
    warm = 2 * senders
    print(f"planning {args.count} + {warm} warm-up dispatches over POST /events ...", flush=True)
    create_dispatches(base, key, args.count + warm)
    outbox = Outbox(url)
    outbox.make_due(warm)
    outbox.wait_sent(warm, 120)
    print(f"warm-up sent; releasing {args.count} dispatches", flush=True)
    cpu_before = {name: common.cpu_seconds(proc) for name, proc in sending.items()}
    outbox.make_due()
    started_wall, started = time.time(), time.monotonic()
    counts = outbox.wait_sent(args.count + warm, max(300, 5 * args.count / args.rate if args.rate else 0))
    seconds = time.monotonic() - started
    cpu_after = {name: common.cpu_seconds(proc) for name, proc in sending.items()}
    cpu = (sum(cpu_after.values()) - sum(cpu_before.values())
           if None not in (*cpu_before.values(), *cpu_after.values()) else None)
    messages = fake.ask("messages")
    received = sorted(m[2] for m in messages if m[2] >= started_wall)
    seen = Counter(body.rsplit("/s/", 1)[-1] for _, body, _ in messages)
    expected = outbox.tokens()
    outbox.engine.dispose()
    memory = {name: common.rss_mib(proc) for name, proc in sending.items()}
    gaps = [b - a for a, b in zip(received, received[1:])]
    burst = int(args.rate) if args.rate else 0
    steady = ((len(received) - 1 - burst) / (received[-1] - received[burst])
              if len(received) > burst + 1 and received[-1] > received[burst] else None)
    return {
        "count": args.count, "seconds": seconds, "per_second": args.count / seconds, "statuses": dict(counts),
        "fake_span_seconds": received[-1] - received[0] if received else None, "steady_per_second": steady,
        "longest_gap_seconds": max(gaps, default=0.0), "log_errors": bench.log_errors(),
        "check": {"dispatches": len(expected), "messages": len(messages), "distinct": len(seen),
                  "missing": len(expected - set(seen)), "duplicates": sum(1 for c in seen.values() if c > 1),
                  "unknown": len(set(seen) - expected), "posts": dict(fake.ask("posts"))},
        "senders": senders, "processes": args.workers if args.mode == "scaled" else 1, "rss_mib": memory,
        "cpu_ms_per_dispatch": cpu * 1000 / args.count if cpu is not None else None,
        "unsent": args.count + warm - counts["sent"] - counts["delivered"]}


def summarize(args, raw: dict, result: dict) -> bool:
    """Print the checks, the table and the JSON; whether every dispatch reached the fake exactly once."""
    check = result["check"]
    for line in result["log_errors"][:3]:
        print(f"surveyd logged an ERROR ({len(result['log_errors'])} in all): {line}")
    print(f"longest pause between two messages at the fake: {result['longest_gap_seconds']:.2f} s")
    for name, memory in result["rss_mib"].items():
        print(f"memory of {name} after sending: {memory.get('now')} MiB resident, peak {memory.get('peak')} MiB")
    ok = check["messages"] == check["dispatches"] == check["distinct"] and not (
        check["missing"] or check["duplicates"] or check["unknown"])
    print(f"exactly-once check: {check['dispatches']} dispatches, {check['messages']} messages at the fake, "
          f"{check['missing']} missing, {check['duplicates']} sent twice, {check['unknown']} unknown "
          f"-> {'OK' if ok else 'FAILED'}")
    setup = "SQLite, 1 serve" if args.mode == "embedded" else f"PostgreSQL + Redis, 1 serve + {args.workers} workers"
    rows = [("sender", "dispatches", "seconds", "per s", "errors"),
            (f"raw SDK -> fake ({raw['processes']} x {args.concurrency} threads)", raw["count"],
             f"{raw['seconds']:.2f}", f"{raw['per_second']:.0f}", raw["errors"]),
            (f"surveyd {args.mode} ({result['processes']} x {args.concurrency} threads)", result["count"],
             f"{result['seconds']:.2f}", f"{result['per_second']:.1f}", result["unsent"] + check["duplicates"])]
    ratio = raw["per_second"] / result["per_second"]
    cpu_ratio = None
    if result["cpu_ms_per_dispatch"] and raw.get("cpu_ms_per_message"):
        # The rates share the VM with its neighbours; the CPU each message cost the sending processes does less so.
        cpu_ratio = result["cpu_ms_per_dispatch"] / raw["cpu_ms_per_message"]
        print(f"CPU per message in the sending processes: surveyd {result['cpu_ms_per_dispatch']:.2f} ms, "
              f"raw SDK {raw['cpu_ms_per_message']:.2f} ms -> {cpu_ratio:.2f}x")
    title = (f"dispatch, {args.mode} ({setup}), {f'rate {args.rate:g}/s' if args.rate else 'limits off'}: "
             f"baseline/surveyd = {ratio:.2f}x")
    if args.rate and result["steady_per_second"]:
        title += f"; {result['steady_per_second']:.1f}/s after the {int(args.rate)}-message burst"
    name = f"dispatch-{args.mode}" + (f"-rate{args.rate:g}" if args.rate else "") + (
        f"-poll{args.poll:g}" if args.poll != 0.2 else "") + (f"-c{args.concurrency}" if args.concurrency != 8 else "") + (
        f"-w{args.workers}" if args.mode == "scaled" and args.workers != 2 else "")
    common.report(name, title, rows, {"ratio": ratio, "cpu_ratio": cpu_ratio, "baseline": raw, "surveyd": result, "exactly_once": ok,
                                      "options": vars(args)})
    return ok


def main(argv: list[str] | None = None) -> int:
    """Baseline, then surveyd, then the exactly-once check and the report."""
    args = parse_args(argv)
    with common.Bench() as bench:
        fake = bench.fake_twilio()
        processes = args.workers if args.mode == "scaled" else 1
        print(f"baseline: {args.count} messages, {processes} x {args.concurrency} SDK threads -> fake", flush=True)
        raw = baseline(fake, args.count, processes, args.concurrency)
        result = run_surveyd(bench, args, fake)
    return 0 if summarize(args, raw, result) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; every process, database and file it started is gone")
