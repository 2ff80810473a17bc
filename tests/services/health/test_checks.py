"""Pipeline health: each check opens an issue when its problem shows, keeps one issue while it lasts, resolves it
when it is gone, and admins hear of each opening and resolving once; refused webhooks are counted per minute.
Time is the `now` the test gives the checks, never the wall clock."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import (
    Channel,
    Dispatch,
    DispatchStatus,
    DispatchStatusChange,
    HealthIssue,
    SandboxMessage,
    WebhookRejection,
    utcnow,
)
from surveyd.services.access import users
from surveyd.services.health import checks, rejections
from surveyd.services.insight.drilldown import ResponseRate
from tests import factories
from tests.console.staff import signed_in


@pytest.fixture
def dispatch(ctx):
    """One planned invitation (web) and an admin to tell."""
    users.create_user("ops@example.com", "admin", "correct horse battery")
    survey = factories.survey(name="Delivery NPS", locales=["en"])
    factories.trigger(survey.id, touchpoint="order.delivered")
    (planned,) = factories.event(external_id="c-1")["dispatches"]
    found = db.session.get(Dispatch, planned["id"])
    db.session.commit()  # no transaction left open: on SQLite it would hold the one writer's lock
    return found


def mail_to_admins() -> list[str]:
    return [m.subject for m in db.session.scalars(sa.select(SandboxMessage).where(
        SandboxMessage.recipient == "ops@example.com").order_by(SandboxMessage.id))]


def open_kinds() -> set[tuple[str, str]]:
    return {(issue.kind, issue.key) for issue in checks.open_issues()}


def test_dispatches_stuck_past_their_due_time_open_one_issue_until_they_go_out(dispatch):
    now = utcnow()
    dispatch.status, dispatch.due_at = DispatchStatus.SCHEDULED, now - timedelta(minutes=checks.STALL_MINUTES - 1)
    db.session.commit()
    assert checks.check(now)["opened"] == []  # due 9 minutes ago: not yet a problem
    assert [i.kind for i in checks.check(now + timedelta(minutes=2))["opened"]] == ["dispatch_stalled"]
    assert checks.check(now + timedelta(minutes=3))["opened"] == []  # still one issue, seen again
    (issue,) = checks.open_issues()
    assert issue.detail["waiting"] == 1 and issue.last_seen_at > issue.opened_at
    assert "have not gone out" in checks.describe(issue)
    assert mail_to_admins() == ["surveyd: 1 pipeline problem"]
    dispatch.status = DispatchStatus.SENT
    db.session.commit()
    assert [i.kind for i in checks.check(now + timedelta(minutes=4))["resolved"]] == ["dispatch_stalled"]
    assert checks.open_issues() == [] and mail_to_admins()[-1] == "surveyd: pipeline problems resolved"


def changes(dispatch, status, count, at, reason=None, channel=Channel.SMS):
    for _ in range(count):
        db.session.add(DispatchStatusChange(dispatch_id=dispatch.id, status=status, reason=reason, channel=channel,
                                            at=at))
    db.session.commit()


def test_a_channels_failure_rate_jumping_is_a_problem_and_a_steady_one_is_not(dispatch):
    now = utcnow()
    changes(dispatch, DispatchStatus.SENT, 30, now - timedelta(minutes=30))
    changes(dispatch, DispatchStatus.FAILED, 9, now - timedelta(minutes=20))
    assert checks.check(now)["opened"] == []  # 9 failures: under the floor
    changes(dispatch, DispatchStatus.FAILED, 1, now - timedelta(minutes=10))
    assert open_kinds() == set() and {(i.kind, i.key) for i in checks.check(now)["opened"]} == {("failure_rate", "sms")}
    # Had the day before failed as much, the hour would be no jump.
    db.session.execute(sa.delete(HealthIssue))
    changes(dispatch, DispatchStatus.FAILED, 25, now - timedelta(hours=5))
    changes(dispatch, DispatchStatus.SENT, 75, now - timedelta(hours=5))
    assert checks.check(now)["opened"] == []


def test_refused_credentials_are_a_problem_for_an_hour(dispatch):
    now = utcnow()
    changes(dispatch, DispatchStatus.FAILED, 1, now - timedelta(minutes=5), reason="provider_auth",
            channel=Channel.TELEGRAM)
    (issue,) = checks.check(now)["opened"]
    assert (issue.kind, issue.key) == ("credentials", "telegram") and "credentials" in checks.describe(issue)
    assert checks.check(now + timedelta(minutes=56))["resolved"][0].id == issue.id


def test_a_response_rate_halving_week_on_week_is_a_problem(dispatch, monkeypatch):
    survey_id = dispatch.survey_id
    weeks = {}

    def rates(since, until):
        return weeks["recent" if until > utcnow() - timedelta(days=3) else "before"]

    monkeypatch.setattr(checks, "response_rates", rates)
    weeks.update(recent={survey_id: ResponseRate(40, 10)}, before={survey_id: ResponseRate(40, 19)})
    assert checks.check()["opened"] == []  # 25% against 47.5%: not half
    weeks.update(recent={survey_id: ResponseRate(40, 9)})
    (issue,) = checks.check()["opened"]
    assert (issue.kind, issue.key, issue.detail["rate"]) == ("response_rate", str(survey_id), 0.225)
    weeks.update(recent={survey_id: ResponseRate(19, 1)})  # too few sent to say
    assert checks.check()["resolved"][0].id == issue.id


def test_webhooks_refused_in_bulk_point_at_the_public_url(dispatch, client):
    for _ in range(checks.SIGNATURE_FAILURES - 1):
        assert client.post("/webhooks/twilio/sms", data={"From": "+905321234567", "Body": "5"}).status_code == 403
    assert client.post("/webhooks/telegram", json={"update_id": 1}).status_code == 403
    assert client.post("/webhooks/twilio/sms", data={}).status_code == 403
    counted = rejections.since(utcnow() - timedelta(minutes=1))
    assert counted == {"twilio": checks.SIGNATURE_FAILURES, "telegram": 1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookRejection)) <= 4  # rows per minute
    now = utcnow()
    (issue,) = checks.check(now)["opened"]
    assert (issue.kind, issue.key) == ("signatures", "twilio") and "SURVEYD_PUBLIC_URL" in checks.describe(issue)
    assert checks.check(now + timedelta(minutes=checks.SIGNATURE_MINUTES + 1))["resolved"][0].id == issue.id


def read(client, path: str):
    """A request in this test's app context (the test client reuses it): end its transaction after, as a request's
    own context would, so the SQLite writer is free for the next."""
    answer = client.get(path)
    db.session.rollback()
    return answer.get_json() if answer.is_json else answer.get_data(as_text=True)


def test_the_api_and_the_dashboard_show_what_is_open(api, app, dispatch):
    now = utcnow()
    dispatch.status, dispatch.due_at = DispatchStatus.SCHEDULED, now - timedelta(hours=1)
    db.session.commit()
    assert read(api, "/health") == {"status": "ok", "items": []}
    checks.check(now)
    db.session.commit()
    body = read(api, "/health")
    assert body["status"] == "problems" and [item["kind"] for item in body["items"]] == ["dispatch_stalled"]
    assert body["items"][0]["resolved_at"] is None and "have not gone out" in body["items"][0]["summary"]
    viewer = signed_in(app, "agent")
    html = read(viewer, "/console/")
    assert "Pipeline problems" in html and "have not gone out" in html
    dispatch.status = DispatchStatus.SENT
    db.session.commit()
    checks.check(now + timedelta(minutes=1))
    db.session.commit()
    body = read(api, "/health")
    assert body["status"] == "ok" and body["items"][0]["resolved_at"] is not None
    assert "Pipeline problems" not in read(viewer, "/console/")
