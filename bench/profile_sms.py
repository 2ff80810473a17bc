"""Where one SMS answer's milliseconds go: POST /webhooks/twilio/sms through the real app in one process, under cProfile.

No network and no load generator, like bench/profile_answer.py: the Flask test client plans N SMS dispatches over
POST /api/v1/events (not measured; no relay runs here, so they are then marked sent in the database, as the relay
would after Twilio took them), then answers each once with a text holding the score, a form signed like Twilio's
(as bench/webhooks.py sends: score 9, so the follow-up question comes back in the TwiML and no alert is raised),
plain and then under cProfile, and N GET /healthz for scale. The profile is cut into the parts of the webhook by
the cumulative time of the functions that do each; parts nest, so the table shows them as a tree.

    .venv/bin/python bench/profile_sms.py [--answers 1000] [--database sqlite|postgresql] [--top 25]
"""
from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.profile_ingest import (  # noqa: E402
    profile_parser,
    profile_requests,
    report_profile,
    surveyd_with_trigger,
)

SENDER = "+15005550006"
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "profile-auth-token"
PUBLIC_URL = "http://127.0.0.1:1"
PATH = "/webhooks/twilio/sms"

# (depth, label, module path fragment, function name): cumulative time of the first matching function.
PARTS = [
    (0, "whole request (Flask test client)", "werkzeug/test.py", "run_wsgi_app"),
    (1, "signature check (twilio RequestValidator)", "bots/twilio_webhooks.py", "verify"),
    (1, "keeping the raw delivery (store_once, commits)", "surveyd/services/answers/inbound.py", "store_once"),
    (1, "acting on it (take_message, commits)", "surveyd/services/answers/conversations.py", "take_message"),
    (2, "claiming the delivery", "surveyd/services/answers/inbound.py", "claim"),
    (2, "contacts with the phone", "surveyd/services/answers/conversations.py", "contacts_with_address"),
    (2, "the thread (the sender's open survey)", "surveyd/services/answers/conversations.py", "find_thread"),
    (2, "what the text means (bots.conversation.decide)", "bots/conversation.py", "decide"),
    (2, "apply_answer (the answer service)", "surveyd/services/answers/responding.py", "apply_answer"),
    (2, "commit", "sqlalchemy/orm/session.py", "commit"),
    (1, "the TwiML reply", "surveyd/webhooks/twilio.py", "_twiml"),
    (1, "all ORM flushes (inside the above)", "sqlalchemy/orm/session.py", "flush"),
    (1, "all SQL in the driver (inside the above)", "sqlite3", "execute"),
]


def phone(n: int) -> str:
    """Contact n's phone."""
    return f"+1555{n:07d}"


def main() -> None:
    args = profile_parser(__doc__, "answers", 1000).parse_args()
    app, client, headers = surveyd_with_trigger(
        args.database, "sms", 0, SURVEYD_SANDBOX="email,telegram", SURVEYD_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        SURVEYD_TWILIO_AUTH_TOKEN=AUTH_TOKEN, SURVEYD_TWILIO_FROM=SENDER, SURVEYD_PUBLIC_URL=PUBLIC_URL)
    import sqlalchemy as sa
    from twilio.request_validator import RequestValidator

    from surveyd.extensions import db
    from surveyd.models import Dispatch, DispatchStatus, utcnow

    validator = RequestValidator(AUTH_TOKEN)
    numbers = iter(range(10**6))

    def texts(count: int) -> list[tuple[str, str]]:
        """Signed inbound SMS forms, one per new contact whose SMS survey was sent."""
        forms = []
        for _ in range(count):
            n = next(numbers)
            body = {"touchpoint": "order.delivered", "contact": {"external_id": f"p{n}", "phone": phone(n)}}
            answer = client.post("/api/v1/events", json=body, headers={**headers, "Idempotency-Key": f"p{n}"})
            assert answer.status_code == 202, answer.get_data(as_text=True)
            sid = f"SM{n:032x}"
            forms.append({"ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
                          "SmsStatus": "received", "Body": "9", "To": SENDER, "NumSegments": "1", "MessageSid": sid,
                          "AccountSid": ACCOUNT_SID, "From": phone(n), "ApiVersion": "2010-04-01"})
        with app.app_context():  # what the relay does once Twilio took them
            db.session.execute(sa.update(Dispatch).where(Dispatch.status == DispatchStatus.SCHEDULED)
                               .values(status=DispatchStatus.SENT, sent_at=utcnow()))
            db.session.commit()
        return [(urlencode(form), validator.compute_signature(PUBLIC_URL + PATH, form)) for form in forms]

    def answer(signed: tuple[str, str]) -> None:
        form, signature = signed
        reply = client.post(PATH, data=form, content_type="application/x-www-form-urlencoded",
                            headers={"X-Twilio-Signature": signature})
        assert reply.status_code == 200 and b"<Message>" in reply.data, reply.get_data(as_text=True)[:300]

    rows, stats = profile_requests(app, client, answer, texts(50), texts(args.answers), texts(args.answers),
                                   PARTS, f"POST {PATH}", "answer")
    report_profile(f"profile-sms-{args.database}", f"POST {PATH} in one process, {args.database}, "
                   f"{args.answers} answers", rows, {"answers": args.answers}, stats, args.top)


if __name__ == "__main__":
    main()
