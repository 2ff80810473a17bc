"""Where one web answer's milliseconds go: POST /s/<token> through the real app in one process, under cProfile.

No network and no load generator, like bench/profile_ingest.py: the Flask test client first plans N web dispatches
over POST /api/v1/events (not measured), then answers each once with a score (as bench/answers.py does: score 9,
so the follow-up question's page comes back and no alert is raised), plain and then under cProfile, and
N GET /healthz for scale. The profile is cut into the parts of the answering path by the cumulative time of the
functions that do each; parts nest, so the table shows them as a tree.

    .venv/bin/python bench/profile_answer.py [--answers 1000] [--database sqlite|postgresql] [--top 25]
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.profile_ingest import (  # noqa: E402
    profile_parser,
    profile_requests,
    report_profile,
    surveyd_with_trigger,
)

# (depth, label, module path fragment, function name): cumulative time of the first matching function.
PARTS = [
    (0, "whole request (Flask test client)", "werkzeug/test.py", "run_wsgi_app"),
    (1, "token check and the dispatch's row", "surveyd/services/answers/responding.py", "dispatch_for_token"),
    (1, "reading the form (the web channel's inbound path)", "bots/web_link.py", "parse_inbound"),
    (1, "record_answer (the service)", "surveyd/services/answers/responding.py", "record_answer"),
    (2, "where the respondent stands (progress)", "surveyd/services/answers/responding.py", "progress"),
    (2, "the response and its first answer", "surveyd/services/answers/responding.py", "_start_response"),
    (3, "status step (answered)", "surveyd/services/dispatch/planning.py", "record_status"),
    (3, "reminders settled", "surveyd/services/dispatch/planning.py", "settle_reminders"),
    (2, "follow-up questions of the band", "surveyd/services/answers/responding.py", "follow_ups_for"),
    (2, "response.created for webhook endpoints", "surveyd/services/integrations/events.py", "publish_response"),
    (2, "alert check", "surveyd/services/alerts/raising.py", "raise_alert_if_negative"),
    (2, "commit", "sqlalchemy/orm/session.py", "commit"),
    (1, "the page (render_progress)", "surveyd/web/respond.py", "render_progress"),
    (2, "Jinja rendering", "flask/templating.py", "render_template"),
    (1, "all ORM flushes (inside the above)", "sqlalchemy/orm/session.py", "flush"),
    (1, "all SQL in the driver (inside the above)", "sqlite3", "execute"),
]


def main() -> None:
    args = profile_parser(__doc__, "answers", 1000).parse_args()
    app, client, headers = surveyd_with_trigger(args.database, "web", 0)

    def links(count: int) -> list[str]:
        """Paths of new web links, one per new contact."""
        paths = []
        for _ in range(count):
            body = {"touchpoint": "order.delivered", "contact": {"external_id": f"a-{uuid.uuid4().hex[:12]}"}}
            answer = client.post("/api/v1/events", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            assert answer.status_code == 202, answer.get_data(as_text=True)
            paths.append("/s/" + answer.get_json()["dispatches"][0]["url"].rsplit("/s/", 1)[1])
        return paths

    def answer(path: str) -> None:
        page = client.post(path, data={"score": "9"})
        assert page.status_code == 200, page.get_data(as_text=True)[:300]

    rows, stats = profile_requests(app, client, answer, links(50), links(args.answers), links(args.answers),
                                   PARTS, "POST /s/<token>", "answer")
    report_profile(f"profile-answer-{args.database}", f"POST /s/<token> in one process, {args.database}, "
                   f"{args.answers} answers", rows, {"answers": args.answers}, stats, args.top)


if __name__ == "__main__":
    main()
