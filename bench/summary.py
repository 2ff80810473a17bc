"""Print the README's benchmark table (Markdown) from bench/results/*.runs.jsonl.

Each row is the median run (by surveyd's throughput) of every recorded run of that benchmark, with
the min-max range when there is more than one. Delete a .runs.jsonl file to start its series over.

    .venv/bin/python bench/summary.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def spread(values: list[float], fmt: str) -> str:
    """' (min–max over n runs)' or '' for a single run."""
    return f" (range {min(values):{fmt}}–{max(values):{fmt}}, {len(values)} runs)" if len(values) > 1 else ""


def ingest_row(runs: list[dict]) -> str:
    """One table row for a series of ingest runs."""
    runs = sorted(runs, key=lambda r: r["events"]["per_second"])
    mid = runs[len(runs) // 2]
    o, ev, hz = mid["options"], mid["events"], mid["healthz"]
    tier = (f"scaled web tier, {o['web_processes']} process{'es' if o['web_processes'] > 1 else ''} "
            f"({'gunicorn' if o['web_processes'] > 1 or o.get('gunicorn') else 'waitress'}) x {o['threads']} threads"
            if o.get("web_processes") else f"embedded, {o['threads']} waitress threads")
    name = (f"ingest: `POST /events`, {o['database']}, channel {o['channel']}, {o['concurrency']} clients"
            f"{' (wrk)' if o.get('generator') == 'wrk' else ''}, {tier}")

    def slower(run: dict) -> float:  # healthz ÷ events, whichever way round the run kept its ratio
        return run["healthz"]["per_second"] / run["events"]["per_second"]

    return (f"| {name} | {ev['per_second']:.0f} events/s, p50 {ev['p50_ms']:.0f} ms, p99 {ev['p99_ms']:.0f} ms"
            f"{spread([r['events']['per_second'] for r in runs], '.0f')} "
            f"| `GET /healthz` {hz['per_second']:.0f} req/s, p50 {hz['p50_ms']:.0f} ms, p99 {hz['p99_ms']:.0f} ms "
            f"| {slower(mid):.1f}x{spread([slower(r) for r in runs], '.1f')} |")


def floor_row(runs: list[dict]) -> str:
    """One table row for a series of naive-endpoint runs (bench/ingest_floor.py): not surveyd, the yardstick."""
    runs = sorted(runs, key=lambda r: r["events"]["per_second"])
    mid = runs[len(runs) // 2]
    o, ev, hz = mid["options"], mid["events"], mid["healthz"]
    return (f"| yardstick, not surveyd: a naive `POST /events` writing one row ({o['variant']}), {o['database']}, "
            f"{o['concurrency']} clients (wrk), waitress with serve's threads | {ev['per_second']:.0f} events/s, "
            f"p50 {ev['p50_ms']:.0f} ms, p99 {ev['p99_ms']:.0f} ms{spread([r['events']['per_second'] for r in runs], '.0f')} "
            f"| its own `GET /healthz` {hz['per_second']:.0f} req/s | {hz['per_second'] / ev['per_second']:.1f}x |")


def answers_row(runs: list[dict]) -> str:
    """One table row for a series of web-answer runs (bench/answers.py)."""
    runs = sorted(runs, key=lambda r: r["answers"]["per_second"])
    mid = runs[len(runs) // 2]
    o, an, hz = mid["options"], mid["answers"], mid["healthz"]
    twice = sum(r["stored"]["dispatches_answered_twice"] for r in runs)
    return (f"| answers: `POST /s/<token>`, embedded, {o['database']}, score {o['score']}, {o['concurrency']} clients "
            f"(wrk), {o['threads']} waitress threads | {an['per_second']:.0f} answers/s, p50 {an['p50_ms']:.0f} ms, "
            f"p99 {an['p99_ms']:.0f} ms{spread([r['answers']['per_second'] for r in runs], '.0f')}"
            f"{'; one response per dispatch in every run' if not twice else f'; {twice} dispatches answered twice'} "
            f"| `GET /healthz` {hz['per_second']:.0f} req/s | "
            f"{hz['per_second'] / an['per_second']:.1f}x |")


def webhooks_row(runs: list[dict]) -> str:
    """One table row for a series of chat-answer webhook runs (bench/webhooks.py)."""
    runs = sorted(runs, key=lambda r: r["webhook"]["per_second"])
    mid = runs[len(runs) // 2]
    o, hook, hz = mid["options"], mid["webhook"], mid["healthz"]
    bad = sum(not r["exactly_once"] for r in runs)
    route = "`POST /webhooks/twilio/sms`" if o["channel"] == "sms" else "`POST /webhooks/telegram` (a button tap)"
    return (f"| webhooks: {route}, embedded, {o['database']}, score {o['score']}, {o['concurrency']} clients "
            f"(wrk), {o['threads']} waitress threads | {hook['per_second']:.0f} answers/s, p50 {hook['p50_ms']:.0f} ms, "
            f"p99 {hook['p99_ms']:.0f} ms{spread([r['webhook']['per_second'] for r in runs], '.0f')}"
            f"{'; exactly once in every run' if not bad else f'; exactly-once check FAILED in {bad} runs'} "
            f"| `GET /healthz` {hz['per_second']:.0f} req/s | {hz['per_second'] / hook['per_second']:.1f}x |")


def dispatch_row(runs: list[dict]) -> str:
    """One table row for a series of dispatch runs."""
    runs = sorted(runs, key=lambda r: r["surveyd"]["per_second"])
    mid = runs[len(runs) // 2]
    o, s, b = mid["options"], mid["surveyd"], mid["baseline"]
    setup = "embedded (SQLite, 1 serve)" if o["mode"] == "embedded" else f"scaled (PostgreSQL + Redis, {o['workers']} workers)"
    limit = f"`SURVEYD_TWILIO_RATE={o['rate']:g}`" if o["rate"] else "limits off"
    what = f"{s['per_second']:.1f} dispatches/s{spread([r['surveyd']['per_second'] for r in runs], '.1f')}"
    if o["rate"] and s.get("steady_per_second"):
        what += f", {s['steady_per_second']:.1f}/s after the initial burst"
    bad = sum(not r["exactly_once"] for r in runs)
    stalls = sum(r["surveyd"]["longest_gap_seconds"] > 5 for r in runs)
    what += "; exactly once in every run" if not bad else f"; exactly-once check FAILED in {bad} runs"
    if stalls:
        what += f"; a pause > 5 s in {stalls} of {len(runs)} runs"
    if o["rate"]:  # the question is whether surveyd holds the configured rate, not the raw SDK's speed
        base = f"configured rate {o['rate']:g}/s (raw SDK → fake {b['per_second']:.0f} msg/s)"
        ratio = f"steady rate = {(s.get('steady_per_second') or 0) / o['rate']:.2f} × configured"
    else:
        base = f"raw SDK → fake {b['per_second']:.0f} msg/s"
        ratios = sorted(r["ratio"] for r in runs)  # the median ratio: the median rate's run may have a slow baseline
        ratio = f"{ratios[len(ratios) // 2]:.1f}x{spread(ratios, '.1f')}"
        costs = [r for r in runs if r.get("cpu_ratio")]
        if costs:  # CPU per message in the sending processes: the VM's neighbours move it less than the rates
            ratio += (f"; CPU per message {sorted(r['cpu_ratio'] for r in costs)[len(costs) // 2]:.2f}x"
                      f"{spread([r['cpu_ratio'] for r in costs], '.2f')}")
    return (f"| dispatch: SMS → fake Twilio, {setup}, {s['senders']} send threads, relay poll {o['poll']:g} s, {limit}, "
            f"{s['count']} dispatches | {what} | {base} | {ratio} |")


def email_row(runs: list[dict]) -> str:
    """One table row for a series of email (SMTP adapter) runs."""
    runs = sorted(runs, key=lambda r: r["median"]["pooled"]["per_second"])
    mid = runs[len(runs) // 2]
    o, m = mid["options"], mid["median"]
    pooled, kept, fresh = m["pooled"], m["kept"], m["per_message"]
    build = next((row for row in mid["rows"] if row[0].startswith("MIME build")), None)
    bad = sum(not r["exactly_once"] for r in runs)
    what = (f"{pooled['per_second']:.0f} emails/s{spread([r['median']['pooled']['per_second'] for r in runs], '.0f')}, "
            f"{pooled['warmup_connections'] + pooled['connections']} SMTP connections in all; "
            + ("exactly once in every run" if not bad else f"exactly-once check FAILED in {bad} runs"))
    base = (f"raw smtplib, prebuilt bytes: {kept['per_second']:.0f}/s on kept connections, {fresh['per_second']:.0f}/s "
            f"with a connection per email" + (f"; MIME build alone {build[1]}/s on 1 thread" if build else ""))
    return (f"| email: invitations → local SMTP server (aiosmtpd, own process), {o['threads']} threads, "
            f"{o['count']} emails of ~{pooled['mean_bytes'] / 1000:.0f} kB | {what} | {base} "
            f"| {kept['per_second'] / pooled['per_second']:.1f}x (kept connections) |")


def main() -> int:
    """Print the table for every series, ingest first."""
    order = ["ingest-sqlite-web-wrk", "ingest-postgresql-web-wrk", "ingest-sqlite-web", "ingest-postgresql", "ingest", "floor-ingest", "answers", "webhooks", "dispatch-embedded.", "dispatch-scaled.",
             "dispatch-embedded-rate", "dispatch-scaled-rate", "dispatch", "email-smtp"]
    # The series this table is for; the others (alerts, insight, profiles, themes) have tables of their own.
    files = sorted((p for p in RESULTS.glob("*.runs.jsonl") if any(p.name.startswith(o) for o in order)),
                   key=lambda p: (next(i for i, o in enumerate(order) if p.name.startswith(o)), p.name))
    if not files:
        print("no results yet: run bench/ingest.py and bench/dispatch.py", file=sys.stderr)
        return 1
    print("| benchmark | surveyd | no-op / raw baseline, same run | baseline ÷ surveyd |")
    print("| --- | --- | --- | --- |")
    machines = set()
    for path in files:
        runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if path.name.startswith("ingest") and runs[-1]["options"].get("seconds", 15) > 60:
            continue  # a soak: bench/README.md tells its memory and latency over time
        row = (ingest_row if path.name.startswith("ingest") else floor_row if path.name.startswith("floor")
               else answers_row if path.name.startswith("answers")
               else webhooks_row if path.name.startswith("webhooks") else email_row if path.name.startswith("email") else dispatch_row)
        print(row(runs))
        machines |= {f"{r['machine']['nproc']} cores, Python {r['machine']['python']}" for r in runs}
    print("\nMeasured on " + "; ".join(sorted(machines)) + ", clients and servers on the same host.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
