"""The load generator: client processes x threads, each thread one keep-alive http.client connection.

Clients run in spawned processes of their own, so they share no GIL with each other or with the
server. Only requests that start after the warm-up and finish before the end are counted.
"""
from __future__ import annotations

import http.client
import json
import threading
import time

from common import _mp


def _request(spec: dict, tag: str) -> tuple[str, str, bytes | None, dict]:
    """The request a load thread sends for its n-th call, tag being unique in the whole run."""
    if spec["kind"] == "healthz":
        return "GET", "/healthz", None, {}
    contact = {"external_id": f"{spec['prefix']}-{tag}"}
    if spec.get("phone"):
        contact["phone"] = "+3" + tag.replace("-", "")
    body = json.dumps({"touchpoint": spec["touchpoint"], "contact": contact}).encode()
    return "POST", "/api/v1/events", body, {"Content-Type": "application/json", "Idempotency-Key": contact[
        "external_id"], "Authorization": f"Bearer {spec['key']}"}


def _load_proc(spec: dict, index: int, threads: int, start: float, warmup: float, seconds: float, out) -> None:
    """One load process: `threads` keep-alive clients from `start` (monotonic) for warmup + seconds."""
    lock, latencies, counts = threading.Lock(), [], {"errors": 0, "samples": []}
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def client(t: int) -> None:
        conn, n, mine = None, 0, []
        while time.monotonic() < start:
            time.sleep(0.001)
        while (began := time.monotonic()) < stop_at:
            method, path, body, headers = _request(spec, f"{index}-{t:03d}-{n:07d}")
            n += 1
            try:
                conn = conn or http.client.HTTPConnection(*spec["address"], timeout=30)
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data, status = response.read(), response.status
            except OSError as error:
                status, data, conn = 0, repr(error).encode(), None
            done = time.monotonic()
            if began >= measure_from and done <= stop_at:
                if status == spec["expect"]:
                    mine.append(done - began)
                else:
                    with lock:
                        counts["errors"] += 1
                        if len(counts["samples"]) < 3:
                            counts["samples"].append(f"{status} {data[:200]!r}")
        with lock:
            latencies.extend(mine)

    try:
        workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    except KeyboardInterrupt:
        return
    out.put({"latencies": latencies, **counts})


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of values; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def load(spec: dict, concurrency: int, procs: int, seconds: float, warmup: float) -> dict:
    """Drive spec's request at `concurrency` clients over `procs` processes; req/s, p50/p99 (ms), errors."""
    out = _mp.Queue()
    start = time.monotonic() + 1.5 + 0.5 * procs  # let the spawned interpreters start first
    children = [_mp.Process(target=_load_proc, daemon=True,
                            args=(spec, i, concurrency // procs + (i < concurrency % procs), start, warmup,
                                  seconds, out)) for i in range(procs)]
    try:
        for child in children:
            child.start()
        parts = [out.get(timeout=start - time.monotonic() + warmup + seconds + 60) for _ in children]
    finally:
        for child in children:
            child.join(5) if not child.is_alive() else (child.terminate(), child.join(5))
    latencies = [x for part in parts for x in part["latencies"]]
    return {"requests": len(latencies), "per_second": len(latencies) / seconds,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "errors": sum(p["errors"] for p in parts), "error_samples": [s for p in parts for s in p["samples"]],
            "concurrency": concurrency, "processes": procs, "seconds": seconds}
