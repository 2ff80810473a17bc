"""Where one SMS send's milliseconds go: the outbox's send task in one process, under cProfile, against the raw SDK.

No relay thread, no pool: N SMS dispatches are planned (POST /events, trigger an hour delayed), made due, leased
the way the relay leases them, and sent by the send task itself (`run_send_batch`, `--batch` dispatches a task,
SEND_BATCH by default, as the embedded relay hands them out under a backlog; `--batch 1` is one claim and one
outcome transaction per send), into the fake
Twilio (tests/fakes/twilio_api.py) running in a thread of this process. Then N messages of the same shape go
through the real SDK alone (bots.sms_twilio.TwilioSmsChannel.send), the same way. The profile is cut into the
parts of a send (lease, claim, load, hold checks, render, rate limit, the status history, commits, the provider
call, recording the outcome) by the cumulative time of the functions that do each. The fake's own work runs in
its thread and is not in the profile; it is in both wall times.

    .venv/bin/python bench/profile_dispatch.py [--count 1000] [--batch 16] [--database sqlite|postgresql] [--top 25]
"""
from __future__ import annotations

import cProfile
import pstats
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.profile_ingest import (  # noqa: E402
    _cumulative,
    part_rows,
    profile_parser,
    report_profile,
    surveyd_with_trigger,
)
from surveyd.services.dispatch.sending import SEND_BATCH  # noqa: E402

SENDER = "+15005550006"
# (depth, label, module path fragment, function name): cumulative time of the first matching function.
PARTS = [
    (0, "lease (the relay's query, per dispatch)", "surveyd/services/dispatch/outbox.py", "lease_due"),
    (0, "send task (run_send_batch), per dispatch", "surveyd/services/dispatch/relay.py", "run_in_app"),
    (1, "claim (UPDATE ... WHERE queued)", "surveyd/services/dispatch/sending.py", "_claim"),
    (2, "load the dispatches with contact, consents, trigger, survey, version", "surveyd/services/dispatch/sending.py", "_load"),
    (1, "hold checks (expired, answered, quiet hours, channel)", "surveyd/services/dispatch/sending.py", "_held"),
    (1, "render the message", "surveyd/services/dispatch/messages.py", "compose"),
    (1, "provider rate limit", "surveyd/services/dispatch/sending.py", "_rate_limited"),
    (1, "status history (record_status)", "surveyd/services/dispatch/planning.py", "record_status"),
    (1, "provider call (twilio SDK, HTTP)", "bots/sms_twilio.py", "send"),
    (1, "record the outcome", "surveyd/services/dispatch/sending.py", "_record_outcome"),
    (1, "commits", "sqlalchemy/orm/session.py", "commit"),
    (1, "all ORM flushes (inside the above)", "sqlalchemy/orm/session.py", "flush"),
    (1, "all SQL in the driver (inside the above)", "sqlite3", "execute"),
]


def main() -> None:
    parser = profile_parser(__doc__, "count", 1000)
    parser.add_argument("--batch", type=int, default=SEND_BATCH, help=f"dispatches per send task (default {SEND_BATCH})")
    args = parser.parse_args()
    import sqlalchemy as sa

    from bots.channel import OutboundMessage
    from bots.sms_twilio import TwilioSmsChannel
    from surveyd.extensions import db
    from surveyd.models import Dispatch, DispatchStatus, utcnow
    from surveyd.services.dispatch import outbox
    from surveyd.services.dispatch.relay import run_send_batch
    from tests.fakes.twilio_api import FakeTwilio

    fake = FakeTwilio()
    fake.start()
    app, client, headers = surveyd_with_trigger(
        args.database, "sms", 3600, SURVEYD_SANDBOX="0", SURVEYD_TWILIO_ACCOUNT_SID=fake.account_sid,
        SURVEYD_TWILIO_AUTH_TOKEN=fake.auth_token, SURVEYD_TWILIO_FROM=SENDER, SURVEYD_TWILIO_API_BASE=fake.base_url,
        SURVEYD_TWILIO_RATE="0")
    warmup = 50
    for n in range(warmup + 2 * args.count):
        body = {"touchpoint": "order.delivered",
                "contact": {"external_id": f"p-{n}-{uuid.uuid4().hex[:8]}", "phone": f"+1444{n:07d}"}}
        assert client.post("/api/v1/events", json=body, headers=headers).status_code == 202

    owner = "profile:1"

    def send(count: int) -> None:
        with app.app_context():
            ids = db.session.scalars(sa.select(Dispatch.id).where(Dispatch.status == DispatchStatus.SCHEDULED)
                                     .order_by(Dispatch.id).limit(count)).all()
            db.session.execute(sa.update(Dispatch).where(Dispatch.id.in_(ids)).values(due_at=utcnow()))
            db.session.commit()
            leased: list[int] = []
            while len(leased) < count:
                leased += outbox.lease_due(owner, 200, 600)
            db.session.remove()
        for first in range(0, len(leased), args.batch):
            run_send_batch(app, leased[first:first + args.batch], owner)

    send(warmup)  # imports, the SDK's session, compiled statements
    began = time.perf_counter()
    send(args.count)
    plain_ms = (time.perf_counter() - began) * 1000 / args.count
    profiler = cProfile.Profile()
    profiler.enable()
    send(args.count)
    profiler.disable()
    channel = TwilioSmsChannel(fake.account_sid, fake.auth_token, from_number=SENDER, api_base=fake.base_url,
                               rate_per_second=0)
    text = "How likely are you to recommend us? Tap to answer: http://127.0.0.1:1/s/" + "x" * 60
    for n in range(warmup):
        channel.send(OutboundMessage("sms", f"+1555{n:07d}", text, reference=f"w{n}"))
    began = time.perf_counter()
    for n in range(args.count):
        channel.send(OutboundMessage("sms", f"+1555{n:07d}", text, reference=f"r{n}"))
    raw_ms = (time.perf_counter() - began) * 1000 / args.count
    with app.app_context():
        sent = db.session.scalar(sa.select(sa.func.count()).select_from(Dispatch)
                                 .where(Dispatch.status == DispatchStatus.SENT))
        db.session.remove()
    fake.stop()
    assert sent == warmup + 2 * args.count, sent
    stats = pstats.Stats(profiler)
    rows = part_rows(stats, PARTS, _cumulative(stats, *PARTS[0][2:]) + _cumulative(stats, *PARTS[1][2:]), plain_ms,
                     args.count, "send")
    rows.append(("one send through surveyd, wall time", "-", "-", f"{plain_ms:.2f}"))
    rows.append(("one send through the raw SDK, wall time, for scale", "-", "-", f"{raw_ms:.2f}"))
    report_profile(f"profile-dispatch-{args.database}" + (f"-batch{args.batch}" if args.batch != SEND_BATCH else ""),
           f"one SMS send in one process, {args.database}, {args.count} sends, {args.batch} a task",
           rows, {"count": args.count, "batch": args.batch}, stats, args.top)


if __name__ == "__main__":
    main()
