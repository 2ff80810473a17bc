"""Answers benchmark: web answers/s through POST /s/<token> against the same server's no-op GET /healthz.

One `surveyd serve` in embedded mode (SQLite unless `--database postgresql`, SURVEYD_SANDBOX=1) with one NPS
survey and one web trigger. The script plans `--links` web dispatches over POST /events (their links come back in
the 202 answers), then wrk drives GET /healthz and POST /s/<token> with `score=N` at the same concurrency and
duration: every request answers a link nobody has answered yet (the Lua script hands each wrk thread its share
of them), so each does the whole answering path: token check, the dispatch and its progress, the response
and its answer, settling a reminder, alert rules, the next page. A run that runs out of links says so and counts
the requests it could not make as errors (raise --links). Afterwards every answered dispatch must have exactly one
response. wrk is required here (apt-get install wrk).

    .venv/bin/python bench/answers.py [--database sqlite|postgresql] [--links 6000] [--score 9]
"""
from __future__ import annotations

import argparse
import sys

import common
import wrk
from ingest import setup


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16, help="client connections (default 16)")
    parser.add_argument("--processes", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per phase (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each phase (default 3)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--threads", type=int, default=8, help="waitress request threads (default 8)")
    parser.add_argument("--links", type=int, default=6000, help="links planned; a fifth go to the warm-up (default 6000)")
    parser.add_argument("--score", type=int, default=9, help="the score every answer gives (default 9: no alert)")
    return parser.parse_args(argv)


def plan_links(base: str, key: str, count: int) -> list[str]:
    """A survey, a web trigger and `count` events for distinct contacts: the tokens of their links."""
    setup(base, key, "web")
    tokens: list[str] = []

    def post(conn, n: int, stop) -> None:
        status, answer = common.call(base, key, "POST", "/api/v1/events", {
            "touchpoint": "order.delivered", "contact": {"external_id": f"a{n}"}}, {"Idempotency-Key": f"a{n}"},
            conn=conn)
        assert status == 202 and answer["dispatches"][0]["url"], (status, answer)
        tokens.append(answer["dispatches"][0]["url"].rsplit("/s/", 1)[1])

    common.parallel(base, 8, list(range(count)), post)
    return tokens


def answered(database_url: str) -> dict:
    """Responses stored and dispatches with more than one response, in one statement."""
    row = common.one_row(database_url, (
        "SELECT (SELECT COUNT(*) FROM responses), (SELECT COUNT(*) FROM (SELECT dispatch_id FROM responses "
        "GROUP BY dispatch_id HAVING COUNT(*) > 1) AS twice)"))
    return {"responses": row[0], "dispatches_answered_twice": row[1]}


def main(argv: list[str] | None = None) -> int:
    """Plan the links, run both phases, check and report."""
    args = parse_args(argv)
    if not wrk.available():
        sys.exit("bench/answers.py needs wrk: apt-get install wrk")
    with common.Bench() as bench:
        url = bench.postgres() if args.database == "postgresql" else f"sqlite:///{bench.tmp / 'bench.sqlite3'}"
        port = common.free_port()
        env = common.surveyd_env(url, port, SURVEYD_SANDBOX="1")
        key = common.create_api_key(env)
        base = bench.serve(env, port, threads=args.threads)
        print(f"planning {args.links} web links over POST /events ...", flush=True)
        tokens = plan_links(base, key, args.links)
        warm = len(tokens) // 5
        files = {"answer-warm": bench.tmp / "warm.tokens", "answer-run": bench.tmp / "run.tokens"}
        files["answer-warm"].write_text("\n".join(tokens[:warm]) + "\n")
        files["answer-run"].write_text("\n".join(tokens[warm:]) + "\n")
        address = ("127.0.0.1", port)
        runs = {}
        for phase, spec in (("healthz", {"kind": "healthz", "address": address, "expect": 200}),
                            ("answers", {"kind": "answer", "address": address, "expect": 200, "score": args.score,
                                         "prefix": "answer", "tokens": files})):
            print(f"{phase}: {args.concurrency} clients, {args.warmup:g}+{args.seconds:g} s ...", flush=True)
            runs[phase] = wrk.load(spec, args.concurrency, args.processes, args.seconds, args.warmup)
            if runs[phase]["errors"]:
                print(f"  {runs[phase]['errors']} errors, e.g. {runs[phase]['error_samples']}", file=sys.stderr)
        if runs["answers"].get("out_of_links"):
            print(f"  ran out of links ({runs['answers']['out_of_links']} requests could not be made): "
                  f"raise --links", file=sys.stderr)
        memory = common.rss_mib(bench.served)
        stored = answered(url)
        log_errors = bench.log_errors()
    if log_errors:
        print(f"surveyd logged {len(log_errors)} ERROR lines, e.g.:\n  " + "\n  ".join(log_errors[:3]))
    noop, answers = runs["healthz"], runs["answers"]
    ratio, rows = common.against_healthz(noop, answers, "POST /s/<token>")
    title = (f"answers, embedded, {args.database}, score {args.score}, {args.concurrency} clients (wrk), "
             f"{args.threads} waitress threads: answers/healthz = {ratio:.2f}x (aim >= 0.5x, p99 < 50 ms)")
    common.report(f"answers-{args.database}", title, rows,
                  {"ratio": ratio, "healthz": noop, "answers": answers, "options": vars(args), "stored": stored,
                   "log_errors": log_errors, "serve_rss_mib": memory})
    print(f"  responses stored over warm-up and measurement: {stored['responses']}; dispatches answered twice: "
          f"{stored['dispatches_answered_twice']}")
    print(f"  surveyd serve's memory after both phases: {memory.get('now')} MiB resident, peak {memory.get('peak')} MiB")
    return 0 if not stored["dispatches_answered_twice"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; every process, database and file it started is gone")
