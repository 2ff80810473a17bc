"""Print the README's benchmark table (Markdown) from the JSON files in bench/results/.

    .venv/bin/python bench/summary.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def ingest_row(data: dict) -> str:
    """One table row for an ingest result."""
    o, ev, hz = data["options"], data["events"], data["healthz"]
    name = f"ingest `POST /events`, embedded, {o['database']}, channel {o['channel']}, {o['concurrency']} clients, {o['threads']} waitress threads"
    return (f"| {name} | {ev['per_second']:.0f} events/s (p50 {ev['p50_ms']:.0f} ms, p99 {ev['p99_ms']:.0f} ms) "
            f"| `GET /healthz` {hz['per_second']:.0f} req/s (p50 {hz['p50_ms']:.1f} ms, p99 {hz['p99_ms']:.0f} ms) "
            f"| {data['ratio']:.1f}x |")


def dispatch_row(data: dict) -> str:
    """One table row for a dispatch result."""
    o, s, b = data["options"], data["surveyd"], data["baseline"]
    setup = "embedded, SQLite" if o["mode"] == "embedded" else f"PostgreSQL + Redis, {o['workers']} workers"
    setup += f", relay poll {o['poll']:g} s"
    limit = f"`SURVEYD_TWILIO_RATE={o['rate']:g}`" if o["rate"] else "limits off"
    what = f"{s['per_second']:.1f} dispatches/s"
    if o["rate"] and s.get("steady_per_second"):
        what += f" ({s['steady_per_second']:.1f}/s after the burst)"
    check = "exactly once OK" if data["exactly_once"] else "exactly once FAILED"
    return (f"| dispatch SMS → fake Twilio, {setup}, {s['senders']} send threads, {limit}, {s['count']} dispatches "
            f"| {what}; {check}; longest pause {s['longest_gap_seconds']:.1f} s "
            f"| raw SDK → fake {b['per_second']:.0f} msg/s | {data['ratio']:.1f}x |")


def main() -> int:
    """Print the table for every result file, ingest first."""
    files = sorted(RESULTS.glob("*.json"), key=lambda p: (not p.name.startswith("ingest"), p.name))
    if not files:
        print("no results yet: run bench/ingest.py and bench/dispatch.py", file=sys.stderr)
        return 1
    print("| benchmark | surveyd | same-run baseline | baseline ÷ surveyd |")
    print("| --- | --- | --- | --- |")
    machines = set()
    for path in files:
        data = json.loads(path.read_text())
        print(ingest_row(data) if path.name.startswith("ingest") else dispatch_row(data))
        m = data["machine"]
        machines.add(f"{m['nproc']} cores, Python {m['python']}, {m['platform']}")
    print("\nMeasured on: " + "; ".join(sorted(machines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
