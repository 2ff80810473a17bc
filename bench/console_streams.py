"""Open live inboxes against the API: does the API keep its speed with 50 inboxes streaming, and how fast does a
new alert reach every one of them?

One `surveyd serve` (embedded, SQLite). An agent signs in through the console's form; `--inboxes` clients then
hold `/console/alerts/stream` open as a browser's EventSource would (reconnecting with Last-Event-ID when a
stream ends). Phase A drives POST /api/v1/events at `--concurrency` keep-alive clients with no inbox open;
phase B does the same with every inbox open. Then `--alerts` detractor answers go in one at a time, and each
inbox stamps the moment its stream delivers the new row: latency = that moment - the answer's 200.

    .venv/bin/python bench/console_streams.py [--inboxes 50] [--concurrency 16] [--seconds 15] [--alerts 20]
"""
from __future__ import annotations

import argparse
import http.client
import re
import subprocess
import sys
import threading
import time
import urllib.parse

import common
import loadgen
from ingest import setup

PASSWORD = "bench password 0123"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW = re.compile(r'<tr id="alert-(\d+)">')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inboxes", type=int, default=50, help="open live inboxes (default 50)")
    parser.add_argument("--concurrency", type=int, default=16, help="API clients (default 16)")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per phase (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds per phase (default 3)")
    parser.add_argument("--alerts", type=int, default=20, help="detractor answers pushed to the inboxes (default 20)")
    return parser.parse_args(argv)


def sign_in(port: int) -> str:
    """The agent's session cookie, got through the sign-in form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/console/login")
    page = conn.getresponse()
    cookie = page.getheader("Set-Cookie").split(";")[0]
    token = TOKEN.search(page.read().decode()).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "email": "agent@bench.example", "password": PASSWORD})
    conn.request("POST", "/console/login", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    signed = conn.getresponse()
    signed.read()
    assert signed.status == 302, signed.status
    return signed.getheader("Set-Cookie").split(";")[0]


class Inbox(threading.Thread):
    """One open inbox: reads its stream, stamps each new row's arrival, reconnects as EventSource does."""

    def __init__(self, port: int, cookie: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.cookie, self.stop = port, cookie, stop
        self.seen: dict[int, float] = {}
        self.last, self.connects, self.busy = "0", 0, 0
        self.open = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", "/console/alerts/stream?after=0", headers={
                    "Cookie": self.cookie, "Accept": "text/event-stream", "Last-Event-ID": self.last})
                response = conn.getresponse()
                self.connects += 1
                event: list[str] = []
                while not self.stop.is_set():
                    line = response.readline().decode()  # chunked: the response decodes it
                    if not line:
                        break  # the stream ended: reconnect
                    if line.startswith("retry: 15000"):
                        self.busy += 1
                    if line.startswith("retry: 1000"):
                        self.open.set()
                    if line != "\n":
                        event.append(line)
                        continue
                    text, event = "".join(event), []
                    if text.startswith("event: alert"):
                        now = time.time()
                        for found in ROW.findall(text):
                            self.seen.setdefault(int(found), now)
                        self.last = re.search(r"^id: (\d+)", text, re.M).group(1)
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()


def main(argv: list[str] | None = None) -> int:
    """Both phases and the push; report."""
    args = parse_args(argv)
    with common.Bench() as bench:
        url = f"sqlite:///{bench.tmp / 'bench.sqlite3'}"
        port = common.free_port()
        env = common.surveyd_env(url, port, SURVEYD_SANDBOX="1", SURVEYD_CONSOLE_STREAMS=str(args.inboxes))
        key = common.create_api_key(env)
        subprocess.run([str(common.BIN / "surveyd"), "user", "create", "--email", "agent@bench.example", "--role",
                        "agent"], env={**env, "SURVEYD_NEW_PASSWORD": PASSWORD}, check=True, capture_output=True)
        base = bench.serve(env, port)
        setup(base, key, "web")
        address = ("127.0.0.1", port)
        spec = {"kind": "event", "address": address, "expect": 202, "key": key, "touchpoint": "order.delivered",
                "prefix": "bench", "phone": False}
        print(f"A: POST /events, {args.concurrency} clients, no inbox open ...", flush=True)
        alone = loadgen.load(spec, args.concurrency, args.processes, args.seconds, args.warmup)
        cookie, stop = sign_in(port), threading.Event()
        inboxes = [Inbox(port, cookie, stop) for _ in range(args.inboxes)]
        for inbox in inboxes:
            inbox.start()
        for inbox in inboxes:
            assert inbox.open.wait(60), "an inbox never opened"
        print(f"B: the same with {args.inboxes} inboxes open ...", flush=True)
        spec["prefix"] = "bench-b"
        streaming = loadgen.load(spec, args.concurrency, args.processes, args.seconds, args.warmup)
        print(f"push: {args.alerts} detractor answers, one at a time ...", flush=True)
        answered = push_alerts(base, key, args.alerts)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(set(answered) <= set(i.seen) for i in inboxes):
            time.sleep(0.1)
        stop.set()
        log_errors = bench.log_errors()
    latencies = [inbox.seen[a] - at for inbox in inboxes for a, at in answered.items() if a in inbox.seen]
    missing = sum(a not in inbox.seen for inbox in inboxes for a in answered)
    rows = [("phase", "events/s", "p50 ms", "p99 ms", "errors")]
    for name, run in (("A: no inbox open", alone), (f"B: {args.inboxes} inboxes open", streaming)):
        rows.append((name, f"{run['per_second']:.0f}", f"{run['p50_ms']:.1f}", f"{run['p99_ms']:.1f}", run["errors"]))
    p50, p99 = (loadgen.percentile(latencies, q) * 1000 for q in (50, 99))
    ratio = streaming["per_second"] / alone["per_second"] if alone["per_second"] else 0
    title = (f"console streams, embedded SQLite: {args.inboxes} open inboxes keep {ratio:.2f}x of the API's "
             f"events/s; a new alert reaches all of them p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    common.report("console-streams", title, rows, {
        "alone": alone, "streaming": streaming, "push": {"alerts": len(answered), "inboxes": args.inboxes,
                                                         "p50_ms": p50, "p99_ms": p99, "missing": missing,
                                                         "max_ms": max(latencies, default=0) * 1000},
        "connects": sum(i.connects for i in inboxes), "turned_away": sum(i.busy for i in inboxes),
        "options": vars(args), "log_errors": log_errors})
    print(f"  push: {len(latencies)} deliveries, {missing} missing, max {max(latencies, default=0) * 1000:.0f} ms; "
          f"stream connects {sum(i.connects for i in inboxes)}")
    return 0 if not missing else 1


def push_alerts(base: str, key: str, count: int) -> dict[int, float]:
    """Answer `count` fresh web links with a 1 (a detractor), one at a time; alert id -> time of the 200."""
    answered = {}
    for n in range(count):
        status, body = common.call(base, key, "POST", "/api/v1/events", {
            "touchpoint": "order.delivered", "contact": {"external_id": f"push-{n}"}},
            headers={"Idempotency-Key": f"push-{n}"})
        assert status == 202, (status, body)
        path = urllib.parse.urlsplit(body["dispatches"][0]["url"]).path
        host, port = base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("POST", path, body="score=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        done = time.time()
        assert response.status == 200, response.status
        status, alerts = common.call(base, key, "GET", "/api/v1/alerts?status=open")
        newest = max(a["id"] for a in alerts["items"])
        answered[newest] = done
        time.sleep(0.5)  # one at a time: each push measured on its own
    return answered


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; every process, database and file it started is gone")
