"""Shared benchmark plumbing: processes we own (and always clean up), the fake provider, the load generator.

Everything measured runs in its own OS process: `surveyd serve` / `surveyd worker`, the fake
Twilio, and the load-generating clients (loadgen.py), so no two of them share a GIL. The `Bench` context
manager owns every process, the temp dir, the PostgreSQL database and the Redis db it made, and
releases them on normal exit, on error, on Ctrl-C and on SIGTERM.
"""
from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
RESULTS = REPO / "bench" / "results"
SECRET = "bench-secret-key-0123456789abcdef"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
sys.path.insert(0, str(REPO))
_mp = multiprocessing.get_context("spawn")
# `surveyd serve --processes 1` is waitress; this is the gunicorn tier with one worker process.
GUNICORN_ONE = """
import sys
from surveyd.cli import _app, _configure_logging
from surveyd.server import apply_migrations, run_processes
_configure_logging()
app = _app()
apply_migrations(app)
run_processes(app, _app, "127.0.0.1", int(sys.argv[1]), int(sys.argv[2]), 1)
"""


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bench:
    """Owns what a benchmark starts; `with Bench() as b:` undoes all of it, whatever happens."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="surveyd-bench-"))
        self._undo: list = []
        self.logs: list[Path] = []

    def __enter__(self) -> "Bench":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind through __exit__ like Ctrl-C
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception as error:  # keep cleaning up the rest
                print(f"cleanup: {error}", file=sys.stderr)
        if os.environ.get("BENCH_KEEP"):  # keep the processes' logs for a look afterwards
            print(f"logs kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def popen(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        """Start a process (log in the temp dir) that is terminated, then killed, at exit."""
        log = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, env=env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # Ctrl-C reaches us; we stop it in order
        proc.bench_log = self.tmp / f"{name}.log"  # type: ignore[attr-defined]
        self.logs.append(proc.bench_log)

        def stop() -> None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
        self._undo.append(stop)
        return proc

    def log_errors(self) -> list[str]:
        """The ERROR lines the surveyd processes logged so far (name: line)."""
        return [f"{log.stem}: {line.strip()}" for log in self.logs
                for line in log.read_text(errors="replace").splitlines() if " ERROR " in line]

    def own(self, child) -> None:
        """Terminate a multiprocessing child at exit."""
        self._undo.append(lambda: (child.terminate(), child.join(5)) if child.is_alive() else None)

    def postgres(self) -> str:
        """A fresh database surveyd_bench_<pid>, dropped at exit; its SQLAlchemy URL."""
        import sqlalchemy as sa

        name = f"surveyd_bench_{os.getpid()}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        self._undo.append(drop)
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    def redis(self, number: int) -> str:
        """Redis db `number`, flushed now and at exit; its URL."""
        import redis

        url = f"redis://127.0.0.1:6379/{number}"
        client = redis.Redis.from_url(url)
        client.flushdb()
        self._undo.append(client.flushdb)
        return url

    def serve(self, env: dict, port: int, threads: int = 8, processes: int = 1, gunicorn: bool = False) -> str:
        """Start `surveyd serve` (`--processes N`; gunicorn even for one with `gunicorn`) and wait for /healthz;
        its base URL."""
        argv = [str(BIN / "surveyd"), "serve", "--port", str(port), "--threads", str(threads)]
        if processes > 1:
            argv += ["--processes", str(processes)]
        elif gunicorn:  # the same server as several processes use, with one: what a second process adds
            argv = [str(BIN / "python"), "-c", GUNICORN_ONE, str(port), str(threads)]
        proc = self.popen("serve", argv, env)
        self.served = proc
        return wait_for_healthz(proc, port, "surveyd serve")

    def worker(self, env: dict, name: str, concurrency: int) -> subprocess.Popen:
        """Start one `surveyd worker` process."""
        return self.popen(name, [str(BIN / "surveyd"), "worker", f"--concurrency={concurrency}",
                                 "--loglevel=WARNING"], env)

    def fake_twilio(self) -> "FakeTwilioProcess":
        """The fake Twilio REST API in a process of its own."""
        fake = FakeTwilioProcess()
        self.own(fake.process)
        self._undo.append(fake.stop)
        return fake


def wait_for_healthz(proc: subprocess.Popen, port: int, name: str, seconds: float = 60) -> str:
    """Wait until a server started with Bench.popen answers GET /healthz with 200; its base URL."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{proc.bench_log.read_text()[-2000:]}")
        try:
            if call(base, None, "GET", "/healthz")[0] == 200:
                return base
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer /healthz within {seconds:g} s")


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers under its master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def cpu_seconds(proc: subprocess.Popen) -> float | None:
    """The CPU time (user + system) a live process and its children have used so far; None off Linux. Time the VM
    gave to other guests (steal) is not in it, so a cost per message read from it varies less than a rate."""
    total = 0.0
    for pid in [proc.pid, *_children(proc.pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total if total else None


def rss_mib(proc: subprocess.Popen) -> dict:
    """A live process's resident memory now and at its peak (VmRSS, VmHWM), in MiB, with its child processes'
    added (several web processes: the sum of each one's peak), and now proportionally (Pss: shared pages split
    among the processes that share them); empty off Linux."""
    totals: dict = {}
    for pid in [proc.pid, *_children(proc.pid)]:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        for name, key in (("now", "VmRSS"), ("peak", "VmHWM")):
            if key in fields:
                totals[name] = totals.get(name, 0) + int(fields[key].split()[0]) / 1024
        try:  # proportional: pages a forked worker still shares with its master count once over the processes
            pss = next(line for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                       if line.startswith("Pss:"))
            totals["proportional"] = totals.get("proportional", 0) + int(pss.split()[1]) / 1024
        except (OSError, StopIteration):
            pass
        totals["processes"] = totals.get("processes", 0) + 1
    return {name: value if name == "processes" else round(value, 1) for name, value in totals.items()}


class MemoryWatch:
    """Samples a process's resident memory every `every` seconds on a thread of its own while the `with` block
    runs: the samples, and how much it grew from the middle of the run to its end (a leak shows there, after the
    caches and pools have filled)."""

    def __init__(self, proc: subprocess.Popen, every: float = 10.0):
        self.proc, self.every = proc, every
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB resident)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        began = time.monotonic()
        while True:
            now = rss_mib(self.proc).get("now")
            if now is not None:
                self.samples.append((round(time.monotonic() - began, 1), now))
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> "MemoryWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        """First, middle, last and highest sample (MiB), and the growth from the middle to the end."""
        if not self.samples:
            return {}
        values = [mib for _, mib in self.samples]
        middle = values[len(values) // 2]
        return {"first": values[0], "middle": middle, "last": values[-1], "max": max(values),
                "growth_second_half": round(values[-1] - middle, 1), "samples": len(values)}


def one_row(database_url: str, sql: str) -> tuple:
    """One row of one statement, read straight from the database (one statement: one snapshot)."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(sa.text(sql)).one())
    finally:
        engine.dispose()


def against_healthz(noop: dict, measured: dict, endpoint: str) -> tuple[float, list[tuple]]:
    """The ratio measured req/s ÷ healthz req/s, and the table of both phases."""
    ratio = measured["per_second"] / noop["per_second"] if noop["per_second"] else float("nan")
    rows = [("endpoint", "req/s", "p50 ms", "p99 ms", "errors")]
    for name, run in (("GET /healthz (no-op)", noop), (endpoint, measured)):
        rows.append((name, f"{run['per_second']:.0f}", f"{run['p50_ms']:.1f}", f"{run['p99_ms']:.1f}",
                     run["errors"]))
    return ratio, rows


def surveyd_env(database_url: str, port: int, **extra: str) -> dict:
    """The environment of a surveyd process: this one's, minus any SURVEYD_*, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYD_")}
    # The per-key API rate limit (100/s by default) is off: a benchmark measures what the server can take in.
    env.update(SURVEYD_SECRET_KEY=SECRET, SURVEYD_DATABASE_URL=database_url,
               SURVEYD_PUBLIC_URL=f"http://127.0.0.1:{port}", SURVEYD_SANDBOX="1", SURVEYD_API_RATE="0")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def parallel(base: str, threads: int, items: list, work) -> None:
    """Run work(conn, item, stop) over items on `threads` threads, each with its own keep-alive connection."""
    host, port = base.removeprefix("http://").split(":")
    pending, lock, stop, failures = iter(items), threading.Lock(), threading.Event(), []

    def run() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            while not stop.is_set():
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                work(conn, item, stop)
        except Exception as error:  # noqa: BLE001 -- handed to the caller, which raises it
            failures.append(error)
            stop.set()
        finally:
            conn.close()

    runners = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for runner in runners:
        runner.start()
    try:
        for runner in runners:
            while runner.is_alive():
                runner.join(0.2)  # a short join keeps Ctrl-C responsive
    finally:
        stop.set()
    if failures:
        raise failures[0]


def create_api_key(env: dict) -> str:
    """`surveyd api-key create --name bench` (which also migrates); the key from its last line."""
    out = subprocess.run([str(BIN / "surveyd"), "api-key", "create", "--name", "bench"], env=env,
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return out.stdout.strip().splitlines()[-1]


def call(base: str, key: str | None, method: str, path: str, body=None, headers=None, conn=None):
    """One HTTP request (JSON in and out); (status, parsed body)."""
    host, port = base.removeprefix("http://").split(":")
    conn = conn or http.client.HTTPConnection(host, int(port), timeout=30)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=sent)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


def _fake_main(pipe) -> None:
    from collections import Counter

    from tests.fakes.twilio_api import FakeTwilio

    fake = FakeTwilio().start()
    pipe.send((fake.base_url, fake.account_sid, fake.auth_token))
    try:
        while (command := pipe.recv()) != "stop":
            if command == "clear":
                fake.clear()
                pipe.send(None)
            elif command == "messages":  # (to, body, received_wall) of every stored message
                pipe.send([(m["to"], m["body"], m["received_wall"]) for m in fake.messages])
            elif command == "posts":
                pipe.send(Counter(r["status"] for r in fake.requests))
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        fake.stop()


class PipedProcess:
    """A fake served from a child process (spawned), asked things over a pipe; the child sends its ready answer first."""

    def __init__(self, target, name: str) -> None:
        self.pipe, child = _mp.Pipe()
        self.process = _mp.Process(target=target, args=(child,), daemon=True, name=name)
        self.process.start()
        self.ready = self.pipe.recv()

    def ask(self, command: object):
        """Send a command to the fake and return its answer."""
        self.pipe.send(command)
        return self.pipe.recv()

    def stop(self) -> None:
        """Stop the fake's server and process."""
        if self.process.is_alive():
            try:
                self.pipe.send("stop")
            except OSError:  # it is already going (Ctrl-C reached it too)
                pass
            self.process.join(5)


class FakeTwilioProcess(PipedProcess):
    """tests.fakes.twilio_api.FakeTwilio served from a child process, queried over a pipe."""

    def __init__(self) -> None:
        super().__init__(_fake_main, "fake-twilio")
        self.base_url, self.account_sid, self.auth_token = self.ready


def machine() -> dict:
    """Facts that qualify every figure."""
    return {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "code": _code()}


def _code() -> dict:
    """Which surveyd was measured: this checkout's commit (and whether it has changes), or the PYTHONPATH that
    put another checkout's surveyd first (how a before/after comparison runs the old code)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed": bool(git("status", "--porcelain", "surveyd")),
            "pythonpath": os.environ.get("PYTHONPATH", "")}


def report(name: str, title: str, rows: list[tuple], extra: dict) -> Path:
    """Print rows as a table; write the run to bench/results/<name>.json and append it to <name>.runs.jsonl."""
    header, body = rows[0], [tuple(str(c) for c in r) for r in rows[1:]]
    widths = [max(len(str(h)), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    print(f"\n{title}")
    for r in [tuple(map(str, header))] + body:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"title": title, "header": list(header), "rows": [list(r) for r in rows[1:]], **extra,
              "machine": machine(), "argv": sys.argv}
    path = RESULTS / f"{name}.json"  # the latest run
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    with open(RESULTS / f"{name}.runs.jsonl", "a") as runs:  # every run, for medians and ranges
        runs.write(json.dumps(record, default=str) + "\n")
    print(f"  -> {path.relative_to(REPO)} (and appended to {name}.runs.jsonl)")
    return path
