"""Sending webhook deliveries: signed per try over real HTTP to a local receiver, the Standard Webhooks retry
schedule driven by `now`, 410 and 24 hours of failure disabling the endpoint, the relay's sweep."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from bots.standard_webhooks import new_secret
from bots.webhook_http import SignedWebhookChannel
from surveyd.extensions import db
from surveyd.models import (
    DeliveryStatus,
    Role,
    SandboxMessage,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from surveyd.services.integrations import delivering, publishing
from tests.fakes.http_receiver import HttpReceiver

HOUR = timedelta(hours=1)


@pytest.fixture
def receiver():
    with HttpReceiver() as fake:
        yield fake


@pytest.fixture
def channel():
    """The real signing client, allowed to reach the receiver on 127.0.0.1."""
    return SignedWebhookChannel(timeout=5, allow_private=True)


class Recorder:
    """A sender that only notes what it was handed."""

    def __init__(self):
        self.handed: list[tuple[str, int]] = []

    def submit_task(self, task, run, row_id) -> None:
        self.handed.append((task, row_id))


@pytest.fixture
def handed(app):
    recorder = Recorder()
    app.extensions["surveyd.notifier"] = recorder
    yield recorder
    app.extensions.pop("surveyd.notifier", None)


def endpoint(url: str, events=("response.created",)) -> WebhookEndpoint:
    """An endpoint stored as is (the API refuses 127.0.0.1 without allow-private; sending here allows it)."""
    row = WebhookEndpoint(url=url, events=list(events), secret=new_secret(), created_at=utcnow())
    db.session.add(row)
    db.session.commit()
    return row


def deliver(data=None) -> int:
    """Publish response.created and commit; the id of its one delivery."""
    (row,) = publishing.publish("response.created", data or {"response_id": 1, "score": 2}, 1)
    db.session.commit()
    return row.id


def fresh(delivery_id: int) -> WebhookDelivery:
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)


def test_a_2xx_delivers_once_signed_as_the_reference_library_checks(ctx, receiver, channel):
    hook = endpoint(receiver.base_url + "/in")
    delivery_id = deliver()
    assert delivering.send_one(delivery_id, channel=channel) == DeliveryStatus.DELIVERED
    assert delivering.send_one(delivery_id, channel=channel) is None  # delivered rows are never claimed again
    (request,) = receiver.requests
    assert Webhook(hook.secret).verify(request.body, request.headers) == {
        "type": "response.created", "timestamp": fresh(delivery_id).payload["timestamp"],
        "data": {"response_id": 1, "score": 2}}
    row = fresh(delivery_id)
    assert request.headers["webhook-id"] == row.msg_id
    assert (row.attempts, row.last_status, row.delivered_at is not None) == (1, 200, True)
    (attempt,) = row.log
    assert (attempt.status, attempt.error) == (200, None) and attempt.elapsed_ms >= 0


def test_failures_follow_the_standard_webhooks_schedule_with_one_id_and_one_body(ctx, receiver, channel):
    hook = endpoint(receiver.base_url + "/in")
    failing = deliver()
    now = utcnow()
    for tries, wait in enumerate(delivering.RETRY_SCHEDULE, start=1):
        receiver.answer(500, body="down")
        assert delivering.send_one(failing, now=now, channel=channel) == DeliveryStatus.SCHEDULED
        row = fresh(failing)
        assert (row.attempts, row.due_at, row.last_status) == (tries, now + timedelta(seconds=wait), 500)
        now = row.due_at
        # Another delivery gets through meanwhile, so the endpoint is never failing for 24 hours on end.
        receiver.answer(200)
        assert delivering.send_one(deliver(), now=now, channel=channel) == DeliveryStatus.DELIVERED
        assert db.session.get(WebhookEndpoint, hook.id).failing_since is None
    receiver.answer(500)
    assert delivering.send_one(failing, now=now, channel=channel) == DeliveryStatus.FAILED
    row = fresh(failing)
    assert row.attempts == 10 and [a.status for a in row.log] == [500] * 10
    tries = [r for r in receiver.requests if r.headers["webhook-id"] == row.msg_id]
    assert len(tries) == 10 and len({r.body for r in tries}) == 1
    assert round(sum(delivering.RETRY_SCHEDULE) / 3600, 1) == 75.6  # the ~75 hours of the example


def test_a_longer_retry_after_is_honoured_and_a_shorter_one_is_not(ctx, receiver, channel):
    endpoint(receiver.base_url + "/in")
    longer, shorter = deliver(), deliver()
    now = utcnow()
    receiver.answer(503, headers={"Retry-After": "600"})
    delivering.send_one(longer, now=now, channel=channel)
    receiver.answer(429, headers={"Retry-After": "1"})
    delivering.send_one(shorter, now=now, channel=channel)
    assert fresh(longer).due_at == now + timedelta(seconds=600)
    assert fresh(shorter).due_at == now + timedelta(seconds=5)


def test_a_410_disables_the_endpoint_and_fails_what_waits_for_it(ctx, receiver, channel):
    hook = endpoint(receiver.base_url + "/in")
    gone, waiting = deliver(), deliver()
    receiver.answer(410, body="unsubscribed")
    assert delivering.send_one(gone, channel=channel) == DeliveryStatus.FAILED
    row = db.session.get(WebhookEndpoint, hook.id)
    assert row.disabled_reason == "gone" and row.disabled_at is not None
    assert (fresh(gone).last_status, fresh(waiting).status) == (410, DeliveryStatus.FAILED)
    assert "disabled" in fresh(waiting).last_error
    assert delivering.send_one(waiting, channel=channel) is None and len(receiver.requests) == 1
    assert publishing.publish("response.created", {"response_id": 2}, 1) == []  # no new deliveries


def test_a_run_of_failures_disables_the_endpoint_after_24_hours_and_logs_an_error(ctx, receiver, channel, caplog):
    hook = endpoint(receiver.base_url + "/in")
    first, second, third, waiting = deliver(), deliver(), deliver(), deliver()
    start = utcnow()
    receiver.answer(500)
    delivering.send_one(first, now=start, channel=channel)
    assert db.session.get(WebhookEndpoint, hook.id).failing_since == start
    receiver.answer(502)
    assert delivering.send_one(second, now=start + 24 * HOUR - timedelta(seconds=1), channel=channel) == (
        DeliveryStatus.SCHEDULED)
    caplog.set_level(logging.ERROR, logger="surveyd.services.integrations.delivering")
    receiver.answer(500)
    assert delivering.send_one(third, now=start + 24 * HOUR, channel=channel) == DeliveryStatus.FAILED
    row = db.session.get(WebhookEndpoint, hook.id)
    assert (row.disabled_reason, row.disabled_at) == ("failing for 24 hours", start + 24 * HOUR)
    assert {fresh(i).status for i in (first, second, waiting)} == {DeliveryStatus.FAILED}
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"webhook endpoint {hook.id}" in record.getMessage() and "/in" not in record.getMessage()


@pytest.fixture
def admins(ctx):
    """Two admins and a designer; the admins are told when an endpoint is disabled."""
    for email, role in (("ops@example.com", Role.ADMIN), ("cto@example.com", Role.ADMIN),
                        ("designer@example.com", Role.DESIGNER)):
        db.session.add(User(email=email, role=role, password_hash="-"))
    db.session.commit()


def told() -> list[SandboxMessage]:
    return list(db.session.scalars(sa.select(SandboxMessage).where(SandboxMessage.extra["audience"].as_string()
                                                                   == "admin").order_by(SandboxMessage.id)))


def test_every_admin_is_emailed_once_when_failures_disable_an_endpoint(ctx, receiver, channel, admins):
    hook = endpoint(receiver.base_url + "/in?token=secret")
    first, second, third = deliver(), deliver(), deliver()
    start = utcnow()
    receiver.answer(503)
    delivering.send_one(first, now=start, channel=channel)
    assert told() == []  # one failure is not news
    receiver.answer(503)
    delivering.send_one(second, now=start + 24 * HOUR, channel=channel)
    notices = told()
    assert sorted(n.recipient for n in notices) == ["cto@example.com", "ops@example.com"]
    text = notices[0].text
    assert notices[0].subject == f"surveyd stopped sending to webhook endpoint {hook.id}"
    assert f"has failed since {start:%Y-%m-%d %H:%M} UTC" in text and "HTTP 503" in text
    assert f"PATCH /api/v1/webhook-endpoints/{hook.id}" in text and "token=secret" not in text
    receiver.answer(503)
    delivering.send_one(third, now=start + 25 * HOUR, channel=channel)
    assert len(told()) == 2  # disabled once, told once


def test_a_410_tells_the_admins_why(ctx, receiver, channel, admins):
    hook = endpoint(receiver.base_url + "/in")
    receiver.answer(410)
    delivering.send_one(deliver(), channel=channel)
    assert {n.text.split("\n\n")[0] for n in told()} == {
        f"Webhook endpoint {hook.id} ({receiver.base_url}) answered 410 Gone, which means it no longer wants "
        "deliveries, so surveyd stopped sending to it."}


def test_one_success_ends_the_run_of_failures(ctx, receiver, channel):
    hook = endpoint(receiver.base_url + "/in")
    first, second, third = deliver(), deliver(), deliver()
    start = utcnow()
    receiver.answer(500)
    delivering.send_one(first, now=start, channel=channel)
    delivering.send_one(second, now=start + HOUR, channel=channel)  # 200
    receiver.answer(500)
    delivering.send_one(third, now=start + 25 * HOUR, channel=channel)
    row = db.session.get(WebhookEndpoint, hook.id)
    assert (row.failing_since, row.disabled_at) == (start + 25 * HOUR, None)


def test_a_refused_address_fails_at_once_and_leaves_the_endpoint_enabled(ctx, receiver, channel):
    hook = endpoint("http://169.254.169.254/latest/meta-data")  # metadata: refused whatever the setting
    delivery_id = deliver()
    assert delivering.send_one(delivery_id, channel=channel) == DeliveryStatus.FAILED
    row = fresh(delivery_id)
    assert row.attempts == 1 and "metadata" in row.last_error and row.last_status is None
    assert db.session.get(WebhookEndpoint, hook.id).disabled_at is None


def test_a_delivery_written_before_its_endpoint_was_disabled_is_failed_without_a_try(ctx, receiver, channel):
    hook = endpoint(receiver.base_url + "/in")
    delivery_id = deliver()
    hook.disabled_at, hook.disabled_reason = utcnow(), "gone"
    db.session.commit()
    assert delivering.send_one(delivery_id, channel=channel) == DeliveryStatus.FAILED
    assert fresh(delivery_id).attempts == 0 and receiver.requests == []


def test_a_deleted_endpoint_takes_its_deliveries_with_it(ctx, receiver, channel):
    hook = endpoint(receiver.base_url + "/in")
    delivery_id = deliver()
    db.session.delete(hook)
    db.session.commit()
    assert delivering.send_one(delivery_id, channel=channel) is None and receiver.requests == []


def test_the_sweep_hands_out_due_rows_once_and_recovers_a_lapsed_try(ctx, receiver, handed):
    endpoint(receiver.base_url + "/in")
    due, later, stuck = deliver(), deliver(), deliver()
    now = utcnow()
    db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == later)
                       .values(due_at=now + HOUR))
    db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id == stuck)
                       .values(status=DeliveryStatus.SENDING, attempts=1, lease_owner="host:1",
                               lease_expires_at=now - timedelta(seconds=1)))
    db.session.commit()
    handed.handed.clear()  # what each commit handed over; the sweep's own hand-outs follow
    assert delivering.sweep(now) == 2
    assert sorted(handed.handed) == [(delivering.TASK, due), (delivering.TASK, stuck)]
    assert delivering.sweep(now + timedelta(seconds=10)) == 0  # handed out, not claimed yet: left alone
    assert fresh(stuck).status == DeliveryStatus.SCHEDULED
    (note,) = db.session.scalars(sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == stuck))
    assert "host:1" in note.error
    assert delivering.sweep(now + HOUR + timedelta(seconds=1)) == 3  # the hand-out lease lapsed; later is due
