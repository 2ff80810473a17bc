"""Email sending: surveyd's pooled SMTP adapter against raw smtplib, into a local SMTP server.

The server is tests/fakes/smtp_server.FakeSmtp (aiosmtpd, plain text, no AUTH, every message kept in
memory) in a process of its own, queried over a pipe, so its CPU does not compete for the senders'
GIL. Every message is an NPS invitation rendered once from surveyd's own templates
(survey_templates/messages/email_invitation.*, English, the 11 score links, ~1.4 KB text part with
a non-ASCII legend, ~7 KB HTML part, List-Unsubscribe and List-Unsubscribe-Post headers), with a
distinct dispatch_id, link token (the reference), recipient and so Message-ID per message.
Rendering is not timed: surveyd's messages.compose does it before the adapter is called.

Each sending phase runs in a fresh child process (the sender) with --threads threads pulling
messages from one shared list: first --warmup messages (not counted), then the server's counters
are cleared and --count messages are timed from a barrier that releases every thread at once until
the last thread has its last 250 reply. Rates are messages / that time.

1. surveyd adapter (pooled): bots.email_smtp.SmtpEmailChannel(starttls=False, pool_size=threads,
   rate_per_second=0).send(OutboundMessage). One channel for all threads, as in a surveyd worker;
   send() builds the MIME message (message_id, build_email, as_bytes), dot-stuffs it and runs
   MAIL/RCPT/DATA on a pooled connection. The warm-up fills the pool, so the timed part should open
   no connection. The pool is closed (QUIT) after the clock stops.
2. raw smtplib, new connection per message: `with smtplib.SMTP(host, port) as s: s.sendmail(...)`,
   i.e. connect, greeting, EHLO, MAIL/RCPT/DATA, QUIT per message, as a naive sender does (smtplib
   also looks up socket.getfqdn() for EHLO on each connection). Bytes pre-built with build_email.
3. raw smtplib, one kept connection per thread: each thread opens one connection before the
   warm-up and calls sendmail on it; bytes pre-built. The ceiling for this server and client stack.
4. MIME build only: build_email(...).as_bytes() per message, one thread, no network; µs/message.

Phases 2 and 3 get their bytes before the clock starts, phase 1 builds them inside send(), so
(phase 1 time per message) - (phase 3) - (phase 4) is what the adapter itself adds.

After every phase the server reports what it received: the count and the Message-ID of every
message, which must be exactly the set sent, each once; also its connections and QUITs and its CPU
seconds. The sender reports its errors, its CPU seconds over the timed part and its peak RSS
(ru_maxrss of the sender process, which holds the messages and, for phases 2-3, their bytes).
--repeat K runs the four phases K times (interleaved) and reports the median run of each.

    .venv/bin/python bench/email_smtp.py [--count 2000] [--threads 8] [--warmup 200] [--repeat 1]
"""
from __future__ import annotations

import argparse
import hashlib
import re
import resource
import smtplib
import sys
import threading
import time

import common

NAME = "email-smtp"
SENDER = "Surveys <surveys@example.com>"
DOMAIN = "example.com"
PUBLIC_URL = "https://surveys.example.com"
UNSUBSCRIBE = {"List-Unsubscribe": "<https://x/u/e1.abc>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
PLACEHOLDER = "TOKENPLACEHOLDERTOKENPLACEHOLDERTOKENPLACEH"  # as long as a real link token (22 + 1 + 22)
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
PHASES = {
    "pooled": "surveyd adapter (pooled)",
    "per_message": "raw smtplib, new connection per message",
    "kept": "raw smtplib, one kept connection per thread",
    "mime": "MIME build only (1 thread, no network)",
}


# --- the SMTP server, in a process of its own -------------------------------------------------------

def _server_main(pipe) -> None:
    """Serve FakeSmtp and answer "stats", "clear" and "stop" over the pipe."""
    from tests.fakes.smtp_server import FakeSmtp

    fake = FakeSmtp().start()
    pipe.send((fake.host, fake.port))
    try:
        while (command := pipe.recv()) != "stop":
            if command == "stats":  # parsed here, after the clock: receiving stores the raw bytes only
                with fake._lock:
                    mails, connections, quits = list(fake.messages), fake.connections, fake.quits
                ids = [(m.group(1).decode() if (m := MESSAGE_ID.search(mail.data.split(b"\r\n\r\n", 1)[0]))
                        else "") for mail in mails]
                pipe.send({"count": len(mails), "ids": ids, "connections": connections, "quits": quits,
                           "bytes": sum(len(mail.data) for mail in mails), "cpu": time.process_time()})
            elif command == "clear":
                with fake._lock:
                    fake.messages.clear()
                    fake.connections = fake.quits = 0
                pipe.send(time.process_time())
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        fake.stop()


class FakeSmtpProcess(common.PipedProcess):
    """tests.fakes.smtp_server.FakeSmtp served from a child process, queried over a pipe."""

    def __init__(self) -> None:
        super().__init__(_server_main, "fake-smtp")
        self.host, self.port = self.ready


# --- the messages -----------------------------------------------------------------------------------

def _templates() -> tuple[str, str, str]:
    """(subject, text, html) of surveyd's English NPS email invitation, the link token a placeholder."""
    import survey_templates

    question = survey_templates.builtin_survey("nps", ["en"])["questions"][0]
    url = f"{PUBLIC_URL}/s/{PLACEHOLDER}"
    low, high = question["low_label"]["en"], question["high_label"]["en"]
    context = {"question": question["text"]["en"], "url": url, "contact_name": "Dana Smith", "reminder": False,
               "low": 0, "high": 10, "score_links": [(str(v), f"{url}?score={v}") for v in range(11)],
               "low_label": low, "high_label": high, "legend": f"0 = {low} · 10 = {high}",
               "unsubscribe_url": "https://x/u/e1.abc", "touchpoint": "order.delivered", "attributes": {},
               "own_subject": None, "own_intro": None}
    return tuple(survey_templates.render_message(f"email_invitation.{part}", "en", **context)
                 for part in ("subject.txt", "txt", "html"))  # type: ignore[return-value]


def _messages(first_id: int, n: int) -> list:
    """n invitations, dispatch ids first_id.., each with its own token, recipient and so Message-ID."""
    from bots.channel import OutboundMessage

    subject, text, html = _templates()
    out = []
    for dispatch_id in range(first_id, first_id + n):
        nonce = f"n{dispatch_id:021d}"
        token = f"{nonce}.{hashlib.sha256(nonce.encode()).hexdigest()[:22]}"
        out.append(OutboundMessage("email", f"customer{dispatch_id}@example.net", text.replace(PLACEHOLDER, token),
                                   dispatch_id=dispatch_id, subject=subject, html=html.replace(PLACEHOLDER, token),
                                   extra={"headers": UNSUBSCRIBE}, reference=token))
    return out


def _mid(message) -> str:
    from bots.email_message import message_id

    return message_id(message.dispatch_id, message.reference, DOMAIN)


def _wire(messages: list) -> list[tuple[str, str, bytes]]:
    """(envelope from, recipient, bytes) of each message, built as the adapter builds them."""
    from bots.email_message import build_email

    return [("surveys@example.com", m.to, build_email(m, SENDER, _mid(m)).as_bytes()) for m in messages]


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# --- the sender, in a fresh process per phase -------------------------------------------------------

def _sender_main(pipe, phase: str, host: str, port: int, count: int, threads: int, warmup: int, first_id: int) -> None:
    """Run one phase: warm-up round, a "warm" note to the parent, its "go", the timed round, the results."""
    from bots.email_message import build_email

    warm_msgs, timed_msgs = _messages(first_id, warmup), _messages(first_id + warmup, count)
    expected = [_mid(m) for m in timed_msgs]
    if phase == "mime":
        mids = [_mid(m) for m in warm_msgs + timed_msgs]
        for m, mid in zip(warm_msgs, mids):
            build_email(m, SENDER, mid).as_bytes()
        pipe.send(("warm", {}))
        pipe.recv()
        size, rss_setup = 0, _rss_mib()
        t0, c0 = time.perf_counter(), time.process_time()
        for m, mid in zip(timed_msgs, mids[warmup:]):
            size += len(build_email(m, SENDER, mid).as_bytes())
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        pipe.send(("done", {"seconds": seconds, "cpu": cpu, "errors": [], "expected": [], "rss_setup_mib": rss_setup,
                            "rss_peak_mib": _rss_mib(), "mean_bytes": size / count}))
        return

    channel = None
    if phase == "pooled":
        from bots.email_smtp import SmtpEmailChannel

        channel = SmtpEmailChannel(host, port, SENDER, starttls=False, pool_size=threads, rate_per_second=0)
        rounds = [warm_msgs, timed_msgs]

        def send(_state, m) -> None:
            channel.send(m)
    else:
        rounds = [_wire(warm_msgs), _wire(timed_msgs)]
        if phase == "per_message":
            def send(_state, item) -> None:
                with smtplib.SMTP(host, port, timeout=30) as conn:
                    conn.sendmail(*item)
        else:
            def send(state, item) -> None:
                if state[0] is None:  # reconnect after an error (counted there)
                    state[0] = smtplib.SMTP(host, port, timeout=30)
                try:
                    state[0].sendmail(*item)
                except Exception:
                    state[0].close()
                    state[0] = None
                    raise
    rss_setup = _rss_mib()

    barrier, current, errors = threading.Barrier(threads + 1), [iter(())], []

    def worker() -> None:
        state = [smtplib.SMTP(host, port, timeout=30) if phase == "kept" else None]
        try:
            for _ in rounds:
                barrier.wait()
                for item in current[0]:  # a list iterator: each item goes to exactly one thread
                    try:
                        send(state, item)
                    except Exception as error:  # noqa: BLE001 -- counted; the server's count shows what was lost
                        errors.append(repr(error))
                barrier.wait()
        finally:
            if state[0] is not None:
                state[0].quit()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    result: dict = {}
    for index, items in enumerate(rounds):
        current[0] = iter(items)
        if index == 1:  # the parent clears the server's counters between warm-up and timed round
            pipe.send(("warm", {"errors": list(errors)}))
            errors.clear()
            pipe.recv()
        barrier.wait()
        t0, c0 = time.perf_counter(), time.process_time()
        barrier.wait()
        result = {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    for w in workers:
        w.join()
    if channel is not None:
        channel.close()
    pipe.send(("done", {**result, "errors": errors, "expected": expected, "rss_setup_mib": rss_setup,
                        "rss_peak_mib": _rss_mib()}))


def run_phase(bench: common.Bench, server: FakeSmtpProcess, phase: str, args, first_id: int) -> dict:
    """One phase in a fresh sender process; its rate, the server's view and the exactly-once check."""
    pipe, child_end = common._mp.Pipe()
    child = common._mp.Process(target=_sender_main, daemon=True, name=f"sender-{phase}",
                               args=(child_end, phase, server.host, server.port, args.count, args.threads,
                                     args.warmup, first_id))
    bench.own(child)
    server.ask("clear")
    child.start()
    if not pipe.poll(300):
        raise RuntimeError(f"{phase}: the sender did not finish its warm-up")
    _, warm = pipe.recv()
    warm_stats = server.ask("stats")
    server_cpu0 = server.ask("clear")
    pipe.send("go")
    if not pipe.poll(900):
        raise RuntimeError(f"{phase}: the sender did not finish")
    _, done = pipe.recv()
    child.join(30)
    stats = server.ask("stats") if phase != "mime" else None
    out = {"phase": phase, "name": PHASES[phase], "count": args.count, "threads": 1 if phase == "mime" else args.threads,
           "seconds": done["seconds"], "per_second": args.count / done["seconds"],
           "us_per_message": done["seconds"] / args.count * 1e6, "sender_cpu_seconds": done["cpu"],
           "errors": len(done["errors"]), "error_samples": done["errors"][:5],
           "warmup_errors": len(warm.get("errors", [])), "rss_setup_mib": round(done["rss_setup_mib"], 1),
           "rss_peak_mib": round(done["rss_peak_mib"], 1)}
    if stats is None:
        out["mean_bytes"] = round(done["mean_bytes"])
        return out
    ids, expected = stats["ids"], done["expected"]
    out.update(
        received=stats["count"], unique_ids=len(set(ids)), duplicates=len(ids) - len(set(ids)),
        missing=len(set(expected) - set(ids)), unexpected=len(set(ids) - set(expected)),
        exactly_once=stats["count"] == len(expected) and sorted(ids) == sorted(expected),
        warmup_connections=warm_stats["connections"], connections=stats["connections"], quits=stats["quits"],
        server_cpu_seconds=stats["cpu"] - server_cpu0, mean_bytes=round(stats["bytes"] / max(1, stats["count"])))
    return out


def _median(runs: list[dict]) -> dict:
    """The median run by rate (the upper one of an even number)."""
    return sorted(runs, key=lambda r: r["per_second"])[len(runs) // 2]


def main(argv: list[str] | None = None) -> int:
    """Run the four phases --repeat times against one FakeSmtp process; print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="messages per timed phase")
    parser.add_argument("--threads", type=int, default=8, help="sender threads (and pool size)")
    parser.add_argument("--warmup", type=int, default=200, help="messages sent before each timed phase")
    parser.add_argument("--repeat", type=int, default=1, help="run every phase K times, report the median")
    args = parser.parse_args(argv)
    args.warmup = max(args.warmup, 2 * args.threads)
    runs: dict[str, list[dict]] = {phase: [] for phase in PHASES}
    with common.Bench() as bench:
        server = FakeSmtpProcess()
        bench.own(server.process)
        bench._undo.append(server.stop)
        first_id = 1
        for repeat in range(args.repeat):
            for phase, label in PHASES.items():
                result = run_phase(bench, server, phase, args, first_id)
                first_id += args.count + args.warmup
                runs[phase].append(result)
                print(f"  run {repeat + 1}/{args.repeat} {label}: {result['per_second']:.0f} msg/s"
                      + (f", exactly once: {result['exactly_once']}" if "exactly_once" in result else ""), flush=True)

    def rng(phase: str) -> str:
        rates = [r["per_second"] for r in runs[phase]]
        return f"{min(rates):.0f}-{max(rates):.0f}" if len(rates) > 1 else "-"

    def rss(m: dict) -> str:
        return f"{m['rss_peak_mib']:.0f} MiB ({m['rss_setup_mib']:.0f} before sending)"

    medians = {phase: _median(rs) for phase, rs in runs.items()}
    rows: list[tuple] = [("phase", "msg/s", "range", "µs/msg", "sender CPU", "server CPU", "SMTP connections",
                          "delivered", "sender peak RSS")]
    for phase, m in medians.items():
        if phase == "mime":
            rows.append((m["name"], f"{m['per_second']:.0f}", rng(phase), f"{m['us_per_message']:.0f}",
                         f"{m['sender_cpu_seconds'] / m['seconds']:.0%}", "-", "-",
                         f"- ({m['mean_bytes']} B/msg)", rss(m)))
            continue
        conns = f"{m['warmup_connections']} warm-up + {m['connections']} timed"
        ok = "exactly once" if m["exactly_once"] else (f"FAILED: {m['received']} received, {m['missing']} missing, "
                                                       f"{m['duplicates']} duplicates")
        rows.append((m["name"], f"{m['per_second']:.0f}", rng(phase), f"{m['us_per_message']:.0f}",
                     f"{m['sender_cpu_seconds'] / m['seconds']:.0%}", f"{m['server_cpu_seconds'] / m['seconds']:.0%}",
                     conns, f"{m['received']}/{m['count']} {ok}, {m['errors']} errors",
                     rss(m)))
    title = (f"email: SMTP sends of {args.count} NPS invitations into FakeSmtp (own process), {args.threads} threads, "
             f"{args.warmup} warm-up, median of {args.repeat}")
    pooled, kept = medians["pooled"], medians["kept"]
    extra = {"options": vars(args), "median": medians, "runs": runs,
             "pooled_vs_kept": kept["per_second"] / pooled["per_second"],
             "pooled_vs_per_message": pooled["per_second"] / medians["per_message"]["per_second"],
             "exactly_once": all(r["exactly_once"] for p, rs in runs.items() if p != "mime" for r in rs)}
    common.report(NAME, title, rows, extra)
    print(f"  kept-connection ceiling / pooled adapter = {extra['pooled_vs_kept']:.2f}x; "
          f"pooled / new connection per message = {extra['pooled_vs_per_message']:.2f}x; "
          f"exactly once in every run: {extra['exactly_once']}")
    return 0 if extra["exactly_once"] and not any(r["errors"] for rs in runs.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
