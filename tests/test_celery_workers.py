"""The scaled setup for real: `surveyd worker` processes (Celery on this machine's Redis) sending to a
fake Twilio, with outages and a worker killed mid-batch. Every dispatch must end sent, exactly once.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import Dispatch, DispatchStatus, DispatchStatusChange, utcnow
from tests import factories
from tests.conftest import make_env
from tests.fakes.twilio_api import FakeTwilio
from tests.live import wait_until

REDIS_URL = os.environ.get("SURVEYD_TEST_REDIS", "redis://127.0.0.1:6379/14")


pytestmark = pytest.mark.skipif(
    os.environ.get("SURVEYD_TEST_DB", "sqlite") != "postgresql",
    reason="the scaled setup (several `surveyd worker` processes) runs on PostgreSQL; SQLite is one process",
)


@pytest.fixture(scope="module", autouse=True)
def _redis_is_there():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"Redis is not answering at {REDIS_URL}; `./dev test` starts it")


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


class Workers:
    """`surveyd worker` processes sharing one broker queue, with their logs kept for a failure report."""

    def __init__(self, database_url: str, twilio: FakeTwilio, logs: Path, **overrides: str):
        self.env = {**os.environ, **make_env(
            database_url, SURVEYD_SANDBOX="0", SURVEYD_BROKER_URL=REDIS_URL, SURVEYD_QUEUE=f"test-{uuid.uuid4().hex}",
            SURVEYD_TWILIO_ACCOUNT_SID=twilio.account_sid, SURVEYD_TWILIO_AUTH_TOKEN=twilio.auth_token,
            SURVEYD_TWILIO_FROM="+15005550006", SURVEYD_TWILIO_API_BASE=twilio.base_url, SURVEYD_TWILIO_RATE="0",
            SURVEYD_RELAY_POLL_SECONDS="0.2", SURVEYD_RETRY_BASE_SECONDS="0.2", SURVEYD_RETRY_MAX_SECONDS="1",
            SURVEYD_RECONCILE_AFTER_SECONDS="0.5")}
        self.env.update(overrides)
        self.logs = logs
        self.processes: list[subprocess.Popen] = []

    def start(self, concurrency: int = 8) -> subprocess.Popen:
        log = open(self.logs / f"worker-{len(self.processes)}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "surveyd.cli", "worker", f"--concurrency={concurrency}"],
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def report(self) -> str:
        """Each worker's exit code (None while it runs) and the end of its log."""
        exits = ", ".join(f"worker-{i}: {p.poll()}" for i, p in enumerate(self.processes))
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-12000:]}" for p in sorted(self.logs.glob("*.log")))
        return f"exit codes: {exits}\n{logs}"


@pytest.fixture
def workers(database_url, twilio, tmp_path):
    made: list[Workers] = []

    def make(**overrides: str) -> Workers:
        made.append(Workers(database_url, twilio, tmp_path, **overrides))
        return made[-1]

    yield make
    for group in made:
        group.stop()  # failing assertions carry group.report() in their message


def _outbox(ctx_app, count: int, **trigger_rule) -> list[tuple[int, str]]:
    """count SMS dispatches due now, inserted in bulk; their ids and the token each message must carry."""
    from surveyd.services import tokens
    from surveyd.services.runtime import settings

    survey = factories.survey()
    trigger = factories.trigger(survey.id, channels=["sms"], **trigger_rule)
    contact = factories.contact(phone="+447700900123")
    now = utcnow()
    rows = [dict(trigger_id=trigger.id, survey_id=survey.id, survey_version_id=survey.latest.id,
                 contact_id=contact.id, channel="sms", purpose="invitation", status="scheduled", locale="en",
                 token_nonce=tokens.new_nonce(), due_at=now, expires_at=now + timedelta(days=1), attempts=0,
                 reconcile=False, possible_duplicate=False, created_at=now, updated_at=now) for _ in range(count)]
    db.session.execute(sa.insert(Dispatch), rows)
    db.session.commit()
    secret = settings().secret_key
    return [(i, tokens.sign(n, secret)) for i, n in db.session.execute(sa.select(Dispatch.id, Dispatch.token_nonce))]


def _wait_until_settled(expected: int, group: Workers, timeout: float = 120.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = dict(db.session.execute(sa.select(Dispatch.status, sa.func.count()).group_by(Dispatch.status)).all())
        db.session.rollback()
        counts = {status.value: n for status, n in counts.items()}
        if counts.get("sent", 0) + counts.get("failed", 0) >= expected or time.monotonic() > deadline:
            return counts
        assert all(p.poll() is None for p in group.processes if p.returncode != -signal.SIGKILL), group.report()
        time.sleep(0.25)


def _each_sent_once(twilio: FakeTwilio, planned: list[tuple[int, str]]) -> dict[int, int]:
    """How many messages the provider holds per dispatch."""
    bodies = [m["body"] for m in twilio.messages]
    index: dict[str, int] = {}
    for body in bodies:
        token = body.rsplit("/s/", 1)[-1].strip()
        index[token] = index.get(token, 0) + 1
    return {dispatch_id: index.get(token, 0) for dispatch_id, token in planned}


def test_two_workers_send_a_thousand_dispatches_each_exactly_once(ctx, twilio, workers):
    planned = _outbox(ctx, 1000)
    group = workers()
    group.start()
    group.start()
    counts = _wait_until_settled(1000, group)
    assert counts == {"sent": 1000}, (counts, group.report())
    assert set(_each_sent_once(twilio, planned).values()) == {1}
    assert len(twilio.messages) == 1000
    owners = {step.detail["owner"] for step in db.session.scalars(
        sa.select(DispatchStatusChange).where(DispatchStatusChange.status == DispatchStatus.SENDING))}
    assert len(owners) == 2, owners  # both workers took a share


def test_a_provider_outage_then_recovery_delivers_everything_once(ctx, twilio, workers):
    planned = _outbox(ctx, 200)
    twilio.throttle_next(5, retry_after=1)
    twilio.outage(503)
    group = workers()
    group.start()
    group.start()
    wait_until(lambda: twilio.refused(503) >= 50, timeout=60, what="50 sends refused in the outage")
    twilio.end_outage()
    counts = _wait_until_settled(200, group)
    assert counts == {"sent": 200}, (counts, group.report())
    assert set(_each_sent_once(twilio, planned).values()) == {1}
    assert twilio.refused(429) == 5 and twilio.refused(503) >= 50
    retried = db.session.scalar(sa.select(sa.func.count()).select_from(Dispatch).where(Dispatch.attempts > 1))
    assert retried > 0


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(ctx, twilio, workers):
    planned = _outbox(ctx, 200)
    twilio.delay_after_store(0.3)  # a slow provider: the kill lands while requests are in flight
    group = workers(SURVEYD_SEND_LEASE_SECONDS="3", SURVEYD_QUEUE_LEASE_SECONDS="4", SURVEYD_SEND_TIMEOUT_SECONDS="2")
    doomed = group.start()
    deadline = time.monotonic() + 60
    while len(twilio.messages) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    in_flight = db.session.scalar(sa.select(sa.func.count()).select_from(Dispatch)
                                  .where(Dispatch.status == DispatchStatus.SENDING))
    db.session.rollback()
    assert in_flight > 0  # the kill really left sends whose outcome nobody recorded
    twilio.reset_faults()
    group.start()  # the replacement worker, with its relay
    counts = _wait_until_settled(200, group)
    assert counts == {"sent": 200}, (counts, group.report())
    sent_per_dispatch = _each_sent_once(twilio, planned)
    assert 0 not in sent_per_dispatch.values()  # none lost
    flagged = set(db.session.scalars(sa.select(Dispatch.id).where(Dispatch.possible_duplicate.is_(True))))
    twice = {dispatch_id for dispatch_id, n in sent_per_dispatch.items() if n > 1}
    assert twice <= flagged  # any possible duplicate is flagged (Twilio can be asked, so there should be none)
    assert twice == set()
    recovered = db.session.scalar(sa.select(sa.func.count()).select_from(DispatchStatusChange)
                                  .where(DispatchStatusChange.reason == "lease_expired"))
    assert recovered == in_flight
    reconciled = [s for s in db.session.scalars(sa.select(DispatchStatusChange).where(
        DispatchStatusChange.status == DispatchStatus.SENT)) if (s.detail or {}).get("reconciled")]
    assert reconciled  # found at the provider, not sent again


def test_a_worker_on_rabbitmq_sends_too(ctx, twilio, workers):
    planned = _outbox(ctx, 50)
    group = workers(SURVEYD_BROKER_URL=os.environ.get("SURVEYD_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//"))
    group.start()
    counts = _wait_until_settled(50, group)
    assert counts == {"sent": 50}, (counts, group.report())
    assert set(_each_sent_once(twilio, planned).values()) == {1}
