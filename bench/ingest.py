"""Ingest benchmark: events/s through POST /api/v1/events against the same server's no-op GET /healthz.

One `surveyd serve` in embedded mode (SQLite by default, SURVEYD_SANDBOX=1) with one survey and one
trigger on "order.delivered". With `--channel web` (the default) every event plans one web dispatch
whose link travels in the 202 answer, so each request does the whole write path (contact upsert,
event + idempotency record, planning, stored answer) and nothing happens in the background. With
`--channel sms` the dispatch goes to the sandbox SMS inbox, so the embedded dispatcher's sends
compete with ingest for the database and the CPU.

Phase A drives GET /healthz (the contract's no-op) and phase B drives POST /events (a unique
Idempotency-Key and a unique contact per request) at the same concurrency and duration, from
separate client processes with keep-alive connections, or from wrk when it is installed. The ratio
events/s / healthz req/s is what surveyd's ingest keeps of what this server can answer at all; the aim
(issue 17) is at least 0.5, with p99 under 50 ms.

With `--web-processes N` it measures the scaled web tier instead: SURVEYD_BROKER_URL set (Redis), so the
server only serves, `surveyd serve --processes N` (gunicorn for N > 1; `--gunicorn` makes one process gunicorn
too, so 1 and 2 compare the same server), and no worker: the planned dispatches wait in the outbox.

    .venv/bin/python bench/ingest.py [--concurrency 16] [--seconds 15] [--database sqlite|postgresql]
                                     [--web-processes N [--gunicorn]]
"""
from __future__ import annotations

import argparse
import sys

import common
import loadgen
import wrk


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16, help="client connections (default 16)")
    parser.add_argument("--processes", type=int, default=2, help="client processes sharing them (default 2)")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per phase (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each phase (default 3)")
    parser.add_argument("--healthz-seconds", type=float, default=None,
                        help="measured seconds of the healthz phase (default --seconds; shorter for a memory soak)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--threads", type=int, default=8, help="request threads per web process (default 8)")
    parser.add_argument("--web-processes", type=int, default=0,
                        help="scaled web tier: this many `serve --processes` with a broker (default 0: embedded)")
    parser.add_argument("--gunicorn", action="store_true", help="with --web-processes 1: gunicorn, not waitress")
    parser.add_argument("--generator", choices=["wrk", "python"], default="wrk" if wrk.available() else "python",
                        help="load generator: wrk (the default when installed: apt-get install wrk) or loadgen.py")
    parser.add_argument("--set", action="append", default=[], metavar="SURVEYD_NAME=VALUE", type=_setting,
                        help="a setting for the server (repeatable), e.g. SURVEYD_CONSOLE_STREAMS=0")
    parser.add_argument("--channel", choices=["web", "sms"], default="web",
                        help="trigger channel: web (link in the answer) or sms (sandbox, sent in the background)")
    return parser.parse_args(argv)


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"expected SURVEYD_NAME=VALUE, not {text!r}")
    return name, value


def setup(base: str, key: str, channel: str) -> None:
    """One NPS survey and one trigger on order.delivered over the given channel."""
    status, survey = common.call(base, key, "POST", "/api/v1/surveys",
                                 {"name": "Bench NPS", "kind": "nps", "locales": ["en"]})
    assert status == 201, (status, survey)
    status, trigger = common.call(base, key, "POST", "/api/v1/triggers", {
        "touchpoint": "order.delivered", "survey_id": survey["id"], "channels": [channel], "delay_seconds": 0})
    assert status == 201, (status, trigger)


def written(database_url: str) -> dict:
    """Events and dispatches stored, and events that do not have exactly one dispatch, in one statement (one
    snapshot: requests still finishing after the load stops cannot fall between two counts)."""
    row = common.one_row(database_url, (
        "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM dispatches), "
        "(SELECT COUNT(*) FROM events e WHERE (SELECT COUNT(*) FROM dispatches d WHERE d.event_id = e.id) <> 1)"))
    return {"events": row[0], "dispatches": row[1], "events_without_one_dispatch": row[2]}


def main(argv: list[str] | None = None) -> int:
    """Run both phases and report."""
    args = parse_args(argv)
    with common.Bench() as bench:
        url = bench.postgres() if args.database == "postgresql" else f"sqlite:///{bench.tmp / 'bench.sqlite3'}"
        port = common.free_port()
        scaled = {"SURVEYD_BROKER_URL": bench.redis(13)} if args.web_processes else {}
        scaled.update(args.set)
        env = common.surveyd_env(url, port, SURVEYD_SANDBOX="1", **scaled)
        key = common.create_api_key(env)
        base = bench.serve(env, port, threads=args.threads, processes=max(1, args.web_processes),
                           gunicorn=args.gunicorn)
        setup(base, key, args.channel)
        address = ("127.0.0.1", port)
        runs = {}
        for phase, spec in (("healthz", {"kind": "healthz", "address": address, "expect": 200}),
                            ("events", {"kind": "event", "address": address, "expect": 202, "key": key,
                                        "touchpoint": "order.delivered", "prefix": "bench",
                                        "phone": args.channel == "sms"})):
            generator = wrk if args.generator == "wrk" else loadgen
            seconds = args.healthz_seconds or args.seconds if phase == "healthz" else args.seconds
            print(f"{phase}: {args.concurrency} clients, {args.warmup:g}+{seconds:g} s ...", flush=True)
            with common.MemoryWatch(bench.served, every=max(1.0, seconds / 60)) as watch:
                runs[phase] = generator.load(spec, args.concurrency, args.processes, seconds, args.warmup)
            runs[phase]["serve_rss_mib"] = watch.summary()
            if runs[phase]["errors"]:
                print(f"  {runs[phase]['errors']} errors, e.g. {runs[phase]['error_samples']}", file=sys.stderr)
        memory = common.rss_mib(bench.served)
        rows_written = written(url)
        log_errors = bench.log_errors()
    if log_errors:
        print(f"surveyd logged {len(log_errors)} ERROR lines, e.g.:\n  " + "\n  ".join(log_errors[:3]))
    noop, ingest = runs["healthz"], runs["events"]
    ratio, rows = common.against_healthz(noop, ingest, "POST /api/v1/events")
    server = (f"{args.web_processes} web process(es), "
              f"{'gunicorn' if args.gunicorn or args.web_processes > 1 else 'waitress'}") if args.web_processes else "embedded"
    title = (f"ingest, {server}, {args.database}, channel {args.channel}, {args.concurrency} clients ({args.generator}), "
             f"{args.threads} threads{''.join(f', {name}={value}' for name, value in args.set)}: events/healthz = {ratio:.2f}x (aim >= 0.5x, p99 < 50 ms)")
    tier = (f"-web{args.web_processes}" + ("-gunicorn" if args.gunicorn and args.web_processes == 1 else "")
            if args.web_processes else "")
    name = f"ingest-{args.database}-{args.channel}-{args.generator}{tier}" + (f"-c{args.concurrency}" if args.concurrency != 16 else "") + (
        f"-t{args.threads}" if args.threads != 8 else "") + (f"-{args.seconds:g}s" if args.seconds != 15 else "") + "".join(
        f"-{name.removeprefix('SURVEYD_').lower()}{value}" for name, value in args.set)
    common.report(name, title, rows,
                  {"ratio": ratio, "healthz": noop, "events": ingest, "options": vars(args),
                   "rows_written": rows_written, "log_errors": log_errors,
                   "serve_rss_mib": memory})
    print(f"  rows written over warm-up and measurement: {rows_written['events']} events, "
          f"{rows_written['dispatches']} dispatches; events without exactly one dispatch: "
          f"{rows_written['events_without_one_dispatch']}")
    print(f"  surveyd serve's memory after both phases: {memory.get('now')} MiB resident, peak {memory.get('peak')} MiB"
          + (f" ({memory['processes']} processes; {memory.get('proportional')} MiB proportional)"
             if memory.get("processes", 1) > 1 else ""))
    watched = ingest.get("serve_rss_mib") or {}
    if watched:
        print(f"  during the events phase ({watched['samples']} samples): {watched['first']} MiB at its start, "
              f"{watched['middle']} at its middle, {watched['last']} at its end; second half "
              f"{watched['growth_second_half']:+.1f} MiB")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; every process, database and file it started is gone")
