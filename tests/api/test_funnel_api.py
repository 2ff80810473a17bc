"""GET /surveys/{id}/funnel: a funnel whose counts match the dispatches it caused (events in, sends through the
sandbox, links opened, some answered); refusals."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import SandboxMessage
from surveyd.services.dispatch.sending import send_due
from tests.api.helpers import answer, create_survey, create_trigger, error_of, fire, ok, page_path, snapshot

LINK = re.compile(r"https?://[^\s\"'<>]+/s/[A-Za-z0-9_.=-]+")


def in_app(app, fn):
    with app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def email_links(app) -> dict[int, str]:
    """Per dispatch id, the survey link its sandbox email carried (without a score)."""
    def read():
        return {m.dispatch_id: LINK.search(m.text).group(0) for m in db.session.scalars(
            sa.select(SandboxMessage).where(SandboxMessage.channel == "email").order_by(SandboxMessage.id))}
    return in_app(app, read)


@pytest.fixture
def caused(api, client, app):
    """Six web invitations (4 opened, 3 answered of them, 1 answered unopened), three email invitations (sent and
    delivered by the sandbox; 1 score link followed and answered with follow-ups), two SMS invitations suppressed
    for want of a phone, and another survey's invitation that must not count."""
    survey = create_survey(api, name="Funnel NPS", locales=["en"])
    create_trigger(api, survey["id"], touchpoint="order.delivered", channels=["web"])
    create_trigger(api, survey["id"], touchpoint="ticket.closed", channels=["email"])
    create_trigger(api, survey["id"], touchpoint="refund.paid", channels=["sms"])
    other = create_survey(api, name="Other", locales=["en"])
    create_trigger(api, other["id"], touchpoint="other.thing", channels=["web"])
    webs = [fire(api, "order.delivered", f"w-{n}")["dispatches"][0]["url"] for n in range(6)]
    for n in range(3):
        fire(api, "ticket.closed", f"e-{n}", contact={"email": f"e{n}@example.com"})
    sms = [fire(api, "refund.paid", f"s-{n}")["dispatches"][0] for n in range(2)]
    assert [d["status"] for d in sms] == ["suppressed", "suppressed"], sms
    assert in_app(app, send_due) == 3
    for url in webs[:4]:
        assert client.get(page_path(url)).status_code == 200
    client.get(page_path(webs[0]))  # a second look is no second opening
    assert client.head(page_path(webs[4])).status_code == 200  # HEAD opens nothing
    answer(client, webs[0], 10)
    answer(client, webs[1], 3, reason="late")  # follow-up answered: complete
    answer(client, webs[2], 0)
    answer(client, webs[5], 9)  # answered without opening the page first
    (first_email, *_) = email_links(app).values()
    assert client.get(page_path(first_email) + "?score=8").status_code == 200
    answer(client, first_email, 8)
    other_url = fire(api, "other.thing", "o-1")["dispatches"][0]["url"]
    client.get(page_path(other_url))
    return {"survey": survey, "sms_reason": sms[0]["reason"], "other": other}


def completes(client, api, survey_id) -> int:
    return sum(1 for r in ok(api.get("/responses", query_string={"survey_id": survey_id}), 200)["items"]
               if r["completed"])


def test_every_count_matches_the_dispatches(api, client, caused):
    survey_id = caused["survey"]["id"]
    body = ok(api.get(f"/surveys/{survey_id}/funnel", query_string={"group_by": "channel"}), 200)
    completed = completes(client, api, survey_id)
    groups = {g["channel"]: g for g in body["groups"]}
    assert set(groups) == {"web", "email", "sms"}
    web, email, sms = groups["web"], groups["email"], groups["sms"]
    assert (web["planned"], web["suppressed"], web["sent"], web["opened"], web["answered"]) == (6, 0, 6, 4, 4)
    # No delivery receipts for web links: delivered means opened or answered.
    assert (web["delivered"], web["delivery_reported"]) == (5, 0)
    assert web["response_rate"] == round(4 / 6 * 100, 2)
    assert (email["planned"], email["sent"], email["delivered"], email["delivery_reported"]) == (3, 3, 3, 3)
    assert (email["opened"], email["answered"], email["response_rate"]) == (1, 1, round(1 / 3 * 100, 2))
    assert (sms["planned"], sms["suppressed"], sms["reasons"], sms["sent"]) == (2, 2, {caused["sms_reason"]: 2}, 0)
    assert sms["response_rate"] is None and sms["median_seconds_to_answer"] is None
    assert body["planned"] == 11 and body["sent"] == 9 and body["answered"] == 5 and body["opened"] == 5
    assert body["suppressed"] == 2 and body["reasons"] == {caused["sms_reason"]: 2}
    assert body["completed"] == completed == web["completed"] + email["completed"]
    assert body["median_seconds_to_answer"] is not None and body["median_seconds_to_answer"] >= 0
    for counts in (body, *body["groups"]):
        assert counts["planned"] >= counts["sent"] >= counts["delivered"] >= counts["delivery_reported"]
        assert counts["delivered"] >= counts["opened"] and counts["answered"] >= counts["completed"]
    assert "groups" not in ok(api.get(f"/surveys/{survey_id}/funnel"), 200)
    other = ok(api.get(f"/surveys/{caused['other']['id']}/funnel"), 200)
    assert (other["planned"], other["opened"], other["answered"]) == (1, 1, 0)


def test_the_period_counts_invitations_by_their_creation(api, caused):
    survey_id = caused["survey"]["id"]
    empty = ok(api.get(f"/surveys/{survey_id}/funnel", query_string={"since": "2999-01-01T00:00:00Z"}), 200)
    assert (empty["planned"], empty["sent"], empty["reasons"], empty["response_rate"]) == (0, 0, {}, None)
    everything = ok(api.get(f"/surveys/{survey_id}/funnel", query_string={
        "since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z"}), 200)
    assert everything["planned"] == 11


def test_refusals_change_nothing(api, app, caused):
    survey_id = caused["survey"]["id"]
    before = snapshot(app)
    assert error_of(api.get("/surveys/999999/funnel"), 404)
    for query in ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                  {"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                  {"group_by": "touchpoint"}, {"group_by": ""}, {"since": "yesterday"}):
        error_of(api.get(f"/surveys/{survey_id}/funnel", query_string=query), 422)
    for huge in (2**63, 10**30):
        assert api.get(f"/surveys/{huge}/funnel").status_code in (404, 422)
    assert snapshot(app) == before


def test_a_key_is_required(client):
    assert client.get("/api/v1/surveys/1/funnel").status_code == 401
