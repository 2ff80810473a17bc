"""Webhooks benchmark: chat answers/s through Twilio's inbound SMS or Telegram's webhook, against GET /healthz.

One `surveyd serve` in embedded mode (SQLite unless `--database postgresql`), like bench/answers.py, with one NPS
survey and one trigger on the measured channel, which is configured for real (only the other channels are
sandboxed). `--channel sms`: the embedded relay sends through surveyd's Twilio adapter to the fake Twilio
(tests/fakes/twilio_api.py, a process of its own). `--channel telegram`: webhook mode; the relay sends through PTB to
the fake Bot API (tests/fakes/telegram_api.py, a process of its own), which also takes the two calls every tap
makes after its commit (editMessageText, the follow-up's sendMessage); the tap's answerCallbackQuery rides in the
webhook's response, which Telegram would perform and wrk only reads.

The script plans `--links` dispatches over POST /events, one per contact with its own phone or chat id, and waits
until every one is "sent" (Telegram's bucket of 30 messages/s makes that take links / 30 s). It then writes one
webhook request per contact, answering that contact's survey with `--score`:
- sms: POST /webhooks/twilio/sms, a form like Twilio's (From = the contact's phone, Body = the score, a unique
  MessageSid) signed with X-Twilio-Signature over SURVEYD_PUBLIC_URL + path; the conversation path
  (bots/conversation.py) finds the survey by phone and records the score;
- telegram: POST /webhooks/telegram with the secret header, an update (unique, increasing update_id) holding a
  callback_query: a tap on the score's button of the survey message the fake received, so the callback data is what
  the bot sent (the button tap, the answer path Telegram's buttons take).
A fifth go to the warm-up. wrk (bench/wrk.py, kind "file") drives GET /healthz and then the webhook at the same
concurrency and duration, each request once. Exactly once, afterwards: every webhook delivery surveyd kept
(inbound_messages) recorded a score and made exactly one response, no dispatch has two, and the responses lie
between the requests that got 200 and the distinct requests wrk wrote (warm-up + measured). Not equal to either:
wrk stops with requests in flight; those waitress already runs still commit, those still queued are dropped as
their connection closes. wrk is required.

`--api-latency-ms N` (telegram) has the fake hold each sendMessage and editMessageText N ms once the invitations are
out: the round trip to the real Bot API, which the loopback fake does not have.

    .venv/bin/python bench/webhooks.py --channel sms|telegram [--database sqlite|postgresql] [--links 3000]
                                       [--api-latency-ms 100]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from urllib.parse import quote, urlencode

import common
import wrk
from ingest import setup
from sms_baseline import SENDER

HOOK_SECRET = "bench-telegram-webhook-secret-0123"
PATHS = {"sms": "/webhooks/twilio/sms", "telegram": "/webhooks/telegram"}
FIRST_CHAT = 700_000_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channel", choices=["sms", "telegram"], required=True)
    parser.add_argument("--concurrency", type=int, default=16, help="client connections (default 16)")
    parser.add_argument("--processes", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per phase (default 15)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each phase (default 3)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--threads", type=int, default=8, help="waitress request threads (default 8)")
    parser.add_argument("--links", type=int, default=3000, help="dispatches planned; a fifth go to the warm-up "
                                                                 "(default 3000; Telegram sends 30/s)")
    parser.add_argument("--score", type=int, default=9, help="the score every answer gives (default 9: no alert)")
    parser.add_argument("--api-latency-ms", type=float, default=0.0,
                        help="telegram: the fake Bot API holds each sendMessage and editMessageText this long once the "
                             "invitations are out, as the real one's round trip would (default 0)")
    return parser.parse_args(argv)


def _fake_telegram_main(pipe) -> None:
    """The fake Bot API in a child process; tells what it received over the pipe."""
    from tests.fakes.telegram_api import FakeTelegram

    fake = FakeTelegram().start()
    pipe.send((fake.base_url, fake.token))
    try:
        while (command := pipe.recv()) != "stop":
            if isinstance(command, tuple) and command[0] == "latency":  # hold each send and edit this long
                fake.delay_after_store(command[1])
                pipe.send(True)
            elif command == "sent":  # (chat id, message id, inline keyboard) of every sendMessage
                pipe.send([(m["chat_id"], m["message_id"], (m["reply_markup"] or {}).get("inline_keyboard"))
                           for m in fake.sent])
    except (KeyboardInterrupt, EOFError):
        pass
    finally:
        fake.stop()


def channel_env(bench: common.Bench, channel: str) -> tuple[dict, common.PipedProcess]:
    """The fake provider of the channel, started, and the settings that send through it for real."""
    if channel == "sms":
        fake = bench.fake_twilio()
        return dict(SURVEYD_SANDBOX="email,telegram", SURVEYD_TWILIO_ACCOUNT_SID=fake.account_sid,
                    SURVEYD_TWILIO_AUTH_TOKEN=fake.auth_token, SURVEYD_TWILIO_FROM=SENDER,
                    SURVEYD_TWILIO_API_BASE=fake.base_url, SURVEYD_TWILIO_RATE="0"), fake
    fake = common.PipedProcess(_fake_telegram_main, "fake-telegram")
    bench.own(fake.process)
    base_url, token = fake.ready
    return dict(SURVEYD_SANDBOX="email,sms", SURVEYD_TELEGRAM_MODE="webhook", SURVEYD_TELEGRAM_BOT_TOKEN=token,
                SURVEYD_TELEGRAM_API_BASE=base_url, SURVEYD_TELEGRAM_WEBHOOK_SECRET=HOOK_SECRET), fake


def address(channel: str, n: int) -> str:
    """Contact n's phone (sms) or chat id (telegram)."""
    return f"+1555{n:07d}" if channel == "sms" else str(FIRST_CHAT + n)


def plan(base: str, key: str, channel: str, count: int) -> None:
    """A survey, a trigger on the channel, and `count` events for distinct contacts (8 clients)."""
    setup(base, key, channel)
    field = "phone" if channel == "sms" else "telegram_chat_id"

    def post(conn, n: int, stop) -> None:
        status, answer = common.call(base, key, "POST", "/api/v1/events", {
            "touchpoint": "order.delivered", "contact": {"external_id": f"w{n}", field: address(channel, n)}},
            {"Idempotency-Key": f"w{n}"}, conn=conn)
        assert status == 202 and answer["dispatches"][0]["channel"] == channel, (status, answer)

    common.parallel(base, 8, list(range(count)), post)


def wait_sent(database_url: str, count: int) -> None:
    """Poll the dispatches until `count` are sent; fail if any ends otherwise or it takes too long."""
    deadline = time.monotonic() + 60 + count / 10
    while True:
        sent, other = common.one_row(database_url, (
            "SELECT COALESCE(SUM(CASE WHEN status IN ('sent', 'delivered') THEN 1 ELSE 0 END), 0), COALESCE(SUM("
            "CASE WHEN status NOT IN ('sent', 'delivered', 'scheduled', 'queued', 'sending') THEN 1 ELSE 0 END), 0) "
            "FROM dispatches"))
        if sent >= count:
            return
        if other or time.monotonic() > deadline:
            raise RuntimeError(f"{sent} of {count} dispatches sent, {other} ended otherwise (see BENCH_KEEP=1 logs)")
        time.sleep(0.5)


def sms_requests(public_url: str, account_sid: str, auth_token: str, count: int, score: int) -> list[list[str]]:
    """One signed inbound SMS per contact, shaped like Twilio's form: (method, path, body, headers...)."""
    from twilio.request_validator import RequestValidator

    validator, path = RequestValidator(auth_token), PATHS["sms"]
    requests = []
    for n in range(count):
        sid = f"SM{n:032x}"  # one per message, as Twilio's: a repeated MessageSid is a redelivery, acted on once
        form = {"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
                "Body": str(score), "To": SENDER, "NumSegments": "1", "MessageSid": sid, "AccountSid": account_sid,
                "From": address("sms", n), "ApiVersion": "2010-04-01"}
        signature = validator.compute_signature(public_url + path, form)
        requests.append(["POST", path, urlencode(form), "Content-Type: application/x-www-form-urlencoded",
                         f"X-Twilio-Signature: {signature}"])
    return requests


def telegram_requests(fake: common.PipedProcess, count: int, score: int) -> list[list[str]]:
    """One tap on the score's button per contact, on the survey message the fake Bot API received."""
    from tests.fakes.telegram_api import callback_update

    surveys = {chat: (message_id, keyboard) for chat, message_id, keyboard in fake.ask("sent") if keyboard}
    requests = []
    for n in range(count):
        chat = FIRST_CHAT + n
        message_id, keyboard = surveys[chat]
        (data,) = [b["callback_data"] for row in keyboard for b in row if b["text"] == str(score)]
        update = callback_update(chat, message_id, data, update_id=n + 1)  # unique: one effect per update_id
        requests.append(["POST", PATHS["telegram"], json.dumps(update, separators=(",", ":")),
                         "Content-Type: application/json", f"X-Telegram-Bot-Api-Secret-Token: {HOOK_SECRET}"])
    return requests


def write_requests(path, requests: list[list[str]]) -> None:
    """One request a line for wrk's "file" kind: tab-separated fields, each percent-encoded."""
    path.write_text("".join("\t".join(quote(field, safe="") for field in r) + "\n" for r in requests))


def stored(database_url: str) -> dict:
    """Deliveries kept, those that recorded a score, responses, and dispatches answered twice, in one statement."""
    row = common.one_row(database_url, (
        "SELECT (SELECT COUNT(*) FROM inbound_messages), (SELECT COUNT(*) FROM inbound_messages WHERE outcome = "
        "'score'), (SELECT COUNT(*) FROM responses), (SELECT COUNT(*) FROM (SELECT dispatch_id FROM responses "
        "GROUP BY dispatch_id HAVING COUNT(*) > 1) AS twice)"))
    return dict(zip(("deliveries", "scored", "responses", "dispatches_answered_twice"), row))


def settled(database_url: str) -> dict:
    """stored() once the requests wrk left in flight have finished: the same for 1.5 s (at most 30 s)."""
    last, since, deadline = None, time.monotonic(), time.monotonic() + 30
    while True:
        now = stored(database_url)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.5 or time.monotonic() > deadline:
            return now
        time.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    """Plan and send the dispatches, run both phases, check exactly once and report."""
    args = parse_args(argv)
    if not wrk.available():
        sys.exit("bench/webhooks.py needs wrk: apt-get install wrk")
    with common.Bench() as bench:
        url = bench.postgres() if args.database == "postgresql" else f"sqlite:///{bench.tmp / 'bench.sqlite3'}"
        port = common.free_port()
        extra, fake = channel_env(bench, args.channel)
        env = common.surveyd_env(url, port, **extra)
        key = common.create_api_key(env)
        base = bench.serve(env, port, threads=args.threads)
        print(f"planning {args.links} {args.channel} dispatches over POST /events and sending them ...", flush=True)
        plan(base, key, args.channel, args.links)
        wait_sent(url, args.links)
        requests = (sms_requests(env["SURVEYD_PUBLIC_URL"], fake.account_sid, fake.auth_token, args.links, args.score)
                    if args.channel == "sms" else telegram_requests(fake, args.links, args.score))
        warm = len(requests) // 5
        if args.channel == "telegram" and args.api_latency_ms:
            fake.ask(("latency", args.api_latency_ms / 1000))
        files = {"hook-warm": bench.tmp / "warm.requests", "hook-run": bench.tmp / "run.requests"}
        write_requests(files["hook-warm"], requests[:warm])
        write_requests(files["hook-run"], requests[warm:])
        target = ("127.0.0.1", port)
        runs = {}
        for phase, spec in (("healthz", {"kind": "healthz", "address": target, "expect": 200}),
                            ("webhook", {"kind": "file", "address": target, "expect": 200, "prefix": "hook",
                                         "files": files})):
            print(f"{phase}: {args.concurrency} clients, {args.warmup:g}+{args.seconds:g} s ...", flush=True)
            runs[phase] = wrk.load(spec, args.concurrency, args.processes, args.seconds, args.warmup)
            if runs[phase]["errors"]:
                print(f"  {runs[phase]['errors']} errors, e.g. {runs[phase]['error_samples']}", file=sys.stderr)
        noop, hooks = runs["healthz"], runs["webhook"]
        if hooks.get("out_of_links"):
            print(f"  ran out of requests ({hooks['out_of_links']} could not be made): raise --links", file=sys.stderr)
        both = [hooks] + ([hooks["warmup"]] if hooks["warmup"] else [])
        issued, ok_status = sum(r["sent"] for r in both), sum(r["requests"] for r in both)
        counts = settled(url)
        memory = common.rss_mib(bench.served)
        log_errors = bench.log_errors()
    if log_errors:
        print(f"surveyd logged {len(log_errors)} ERROR lines, e.g.:\n  " + "\n  ".join(log_errors[:3]))
    exactly_once = (not counts["dispatches_answered_twice"] and counts["deliveries"] == counts["scored"]
                    == counts["responses"] and ok_status <= counts["responses"] <= issued)
    ratio, rows = common.against_healthz(noop, hooks, f"POST {PATHS[args.channel]}")
    title = (f"webhooks, {args.channel}, embedded, {args.database}, score {args.score}, {args.concurrency} clients "
             f"(wrk), {args.threads} waitress threads: webhook/healthz = {ratio:.2f}x (aim >= 0.5x, p99 < 50 ms)")
    latency = f"-latency{args.api_latency_ms:g}ms" if args.channel == "telegram" and args.api_latency_ms else ""
    if latency:
        title = title.replace(f"score {args.score},", f"score {args.score}, Bot API round trip {args.api_latency_ms:g} ms,")
    common.report(f"webhooks-{args.channel}-{args.database}{latency}", title, rows,
                  {"ratio": ratio, "healthz": noop, "webhook": hooks, "options": vars(args), "stored": counts,
                   "issued": issued, "answered_200": ok_status, "exactly_once": exactly_once,
                   "log_errors": log_errors, "serve_rss_mib": memory})
    print(f"  exactly-once check: wrk wrote {issued} webhook requests (warm-up + measured), {ok_status} got 200; "
          f"surveyd kept {counts['deliveries']} deliveries, {counts['scored']} recorded a score, "
          f"{counts['responses']} responses, {counts['dispatches_answered_twice']} dispatches answered twice "
          f"-> {'OK' if exactly_once else 'FAILED'}")
    print(f"  surveyd serve's memory after both phases: {memory.get('now')} MiB resident, peak {memory.get('peak')} MiB")
    return 0 if exactly_once else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted; every process, database and file it started is gone")
