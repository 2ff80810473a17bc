"""Redis stops and comes back. For the API's rate limit it is a store the service can do without for a while:
requests go through while it is down (refusing everyone would be the outage the limit exists to prevent), /readyz
names it, and the limit holds again once it is back. As Celery's broker it loses every queued task when it stops
(this Redis keeps nothing on disk): the outbox's leases bring those dispatches back, so every one is sent once."""
from __future__ import annotations

import tempfile

import pytest
import requests

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import Event
from tests.conftest import _backend, free_port, make_env
from tests.fakes.twilio_api import FakeTwilio
from tests.faults.servers import private_redis
from tests.live import outside_client, served, wait_until
from tests.test_celery_workers import (
    Workers,
    _each_sent_once,
    _outbox,
    _wait_until_settled,
)


@pytest.fixture
def redis_server():
    with private_redis() as server:
        yield server


def _get(session: requests.Session, url: str) -> requests.Response:
    return session.get(url, timeout=30)


@pytest.mark.skipif(_backend() != "sqlite", reason="runs once, in the SQLite run: the database plays no part")
def test_the_api_rate_limit_goes_through_while_redis_is_down_and_holds_again_after(app, database_url, redis_server):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # One request per 100 s and a burst of 3: the fourth request in a row is refused, however slow the machine.
    limited = create_app(make_env(database_url, SURVEYD_PUBLIC_URL=base, SURVEYD_REDIS_URL=redis_server.url,
                                  SURVEYD_API_RATE="0.01", SURVEYD_API_BURST="3"),
                         instance_path=tempfile.mkdtemp(prefix="surveyd-faults-redis-"))
    with served(limited, port):
        outside = outside_client(limited, base)
        statuses = [_get(outside.session, base + "/api/v1/surveys").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]

        redis_server.stop()
        ready = requests.get(base + "/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"] == {"database": "ok", "storage": "ok",
                                                                       "redis": "unavailable"}
        # Past its limit and Redis gone: the request goes through rather than failing, and so does an event.
        assert _get(outside.session, base + "/api/v1/surveys").status_code == 200
        event = outside.post("/events", {"touchpoint": "order.delivered", "contact": {"external_id": "r-1"}},
                             status=202)

        redis_server.start()
        wait_until(lambda: requests.get(base + "/readyz", timeout=30).status_code == 200, timeout=30,
                   what="/readyz once Redis is back")
        # The limiter asks Redis again a few seconds after it failed; from then on the limit holds (the restarted
        # Redis kept no bucket, so the key has its burst again before the refusals).
        wait_until(lambda: _get(outside.session, base + "/api/v1/surveys").status_code == 429, timeout=30,
                   what="the rate limit holding again")
        outside.session.close()
    with limited.app_context():
        assert db.session.get(Event, event["id"]) is not None  # the event taken during the outage is kept
        db.session.remove()


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.mark.skipif(_backend() != "postgresql", reason="the scaled setup (`surveyd worker`) runs on PostgreSQL")
def test_a_broker_outage_delays_sends_and_loses_none(ctx, database_url, twilio, redis_server, tmp_path):
    _outbox(ctx, 100)
    twilio.delay_after_store(0.05)  # slow enough that Redis may stop with tasks queued and sends in flight
    group = Workers(database_url, twilio, tmp_path, SURVEYD_BROKER_URL=redis_server.url,
                    SURVEYD_QUEUE_LEASE_SECONDS="3", SURVEYD_SEND_LEASE_SECONDS="3", SURVEYD_SEND_TIMEOUT_SECONDS="2")
    try:
        group.start()
        wait_until(lambda: len(twilio.messages) >= 20, timeout=90, what="20 sends before the outage")
        redis_server.stop()
        planned = _outbox(ctx, 50)  # due while the broker is down: the relay cannot hand these to anyone yet
        probe = create_app(make_env(database_url, SURVEYD_BROKER_URL=redis_server.url),
                           instance_path=str(tmp_path / "probe"))
        ready = probe.test_client().get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["broker"] == "unavailable"
        redis_server.start()
        counts = _wait_until_settled(150, group, timeout=240)
        assert counts == {"sent": 150}, (counts, group.report())
        sent = _each_sent_once(twilio, planned)
        assert set(sent.values()) == {1}, ({k: v for k, v in sent.items() if v != 1}, group.report())
        assert all(process.poll() is None for process in group.processes), group.report()
        assert probe.test_client().get("/readyz").status_code == 200
    finally:
        group.stop()
