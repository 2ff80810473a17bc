"""The raw-provider baseline: how fast the real twilio SDK alone pushes messages into the fake Twilio.

Processes x threads call bots.sms_twilio.TwilioSmsChannel.send (limits off) with messages shaped
like surveyd's invitations; the rate is messages / (last answer - common start). dispatch.py runs
this beside every surveyd figure. Alone, against a fresh fake:

    .venv/bin/python bench/sms_baseline.py [--count 2000] [--processes 1] [--threads 8]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time

import common

SENDER = "+15005550006"


def _baseline_proc(fake: dict, share: int, threads: int, start: float, out) -> None:
    """Send `share` messages through TwilioSmsChannel.send on `threads` threads, from `start`."""
    from bots.channel import OutboundMessage
    from bots.sms_twilio import TwilioSmsChannel

    channel = TwilioSmsChannel(fake["sid"], fake["token"], from_number=SENDER, api_base=fake["base"],
                               rate_per_second=0)
    left, lock, errors = [share], threading.Lock(), []

    def sender(t: int) -> None:
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
                n = left[0]
            ref = f"baseline{t:03d}x{n:07d}.{'m' * 22}"
            text = f"How likely are you to recommend us to a friend or colleague? Tap to answer: http://127.0.0.1:8000/s/{ref}"
            try:
                channel.send(OutboundMessage("sms", f"+1444{t:03d}{n:05d}", text, reference=ref))
            except Exception as error:
                errors.append(repr(error))

    while time.monotonic() < start:
        time.sleep(0.001)
    cpu = time.process_time()
    workers = [threading.Thread(target=sender, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put({"end": time.monotonic(), "errors": errors, "cpu": time.process_time() - cpu})


def baseline(fake: common.FakeTwilioProcess, count: int, processes: int, threads: int) -> dict:
    """Raw SDK → fake rate for `count` messages from processes x threads senders."""
    out, spec = common._mp.Queue(), {"sid": fake.account_sid, "token": fake.auth_token, "base": fake.base_url}
    start = time.monotonic() + 2 + processes
    children = [common._mp.Process(target=_baseline_proc, daemon=True,
                                   args=(spec, count // processes + (i < count % processes), threads, start, out))
                for i in range(processes)]
    for child in children:
        child.start()
    parts = [out.get(timeout=600) for _ in children]
    for child in children:
        child.join(5)
    stored = len(fake.ask("messages"))
    fake.ask("clear")
    seconds = max(p["end"] for p in parts) - start
    return {"count": count, "stored": stored, "seconds": seconds, "per_second": count / seconds,
            "errors": sum(len(p["errors"]) for p in parts), "processes": processes, "threads": threads,
            "cpu_ms_per_message": sum(p["cpu"] for p in parts) * 1000 / count}


def main(argv: list[str] | None = None) -> int:
    """Run the baseline alone against a fake Twilio of its own."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    with common.Bench() as bench:
        result = baseline(bench.fake_twilio(), args.count, args.processes, args.threads)
    print(f"raw SDK -> fake: {result['count']} messages in {result['seconds']:.2f} s = "
          f"{result['per_second']:.0f}/s, {result['errors']} errors ({args.processes} x {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
