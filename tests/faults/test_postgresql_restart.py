"""PostgreSQL crashes and comes back under load. Integrators keep posting events and customers keep answering, each
retrying a refused request with the same Idempotency-Key (or the same page post) as the contract asks: while the
database is down they get 503 with Retry-After (never a 500) and /readyz names the database; afterwards every
acknowledged event, answer and Twilio webhook is there exactly once, and the relay is still running."""
from __future__ import annotations

import tempfile
import threading
from collections import Counter

import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from surveyd import create_app
from surveyd.extensions import db
from surveyd.models import Dispatch, Event, InboundMessage, Response
from surveyd.server import apply_migrations
from tests.conftest import _backend, free_port, make_env
from tests.faults.servers import private_postgres
from tests.live import outside_client, served, wait_until

TWILIO_TOKEN = "faults-twilio-token"
SMS = {"MessageSid": "SM" + "f" * 32, "From": "+447700900123", "To": "+15005550006", "Body": "9", "NumMedia": "0"}
pytestmark = pytest.mark.skipif(_backend() != "postgresql", reason="the PostgreSQL run restarts a PostgreSQL")


class Integrator(threading.Thread):
    """Posts events one key at a time; a refused event is posted again with its key until it is acknowledged."""

    def __init__(self, base: str, key: str, name: str) -> None:
        super().__init__(daemon=True)
        self.base, self.name = base, name
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.statuses: Counter = Counter()
        self.acknowledged: dict[str, dict] = {}  # Idempotency-Key -> the 202 body
        self.stopping = threading.Event()
        self.failure: str | None = None

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            number += 1
            key = f"{self.name}-{number}"
            body = {"touchpoint": "order.delivered", "contact": {"external_id": f"{self.name}-c{number % 7}"},
                    "attributes": {"order_id": key}}
            while True:  # until acknowledged, whatever the database does meanwhile
                try:
                    response = self.session.post(self.base + "/api/v1/events", json=body, timeout=30,
                                                 headers={"Idempotency-Key": key})
                except requests.ConnectionError as error:
                    self.failure = f"{key}: the server dropped the request: {error}"
                    return
                self.statuses[response.status_code] += 1
                if response.status_code == 202:
                    self.acknowledged[key] = response.json()
                    break
                if response.status_code != 503 or "Retry-After" not in response.headers:
                    self.failure = f"{key}: {response.status_code} {response.text}"
                    return
                self.stopping.wait(0.05)  # a client's back-off; not what the test waits on


@pytest.fixture
def crashing():
    """A served app on a private PostgreSQL the test may crash; yields (server, app, outside, base, relay)."""
    with private_postgres() as server:
        folder = tempfile.mkdtemp(prefix="surveyd-faults-app-")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        app = create_app(make_env(server.url, SURVEYD_PUBLIC_URL=base, SURVEYD_RELAY_POLL_SECONDS="0.1",
                                  SURVEYD_TWILIO_ACCOUNT_SID="AC" + "0" * 32, SURVEYD_TWILIO_AUTH_TOKEN=TWILIO_TOKEN),
                         instance_path=folder)
        apply_migrations(app, quiet=True)
        with served(app, port) as relay:
            outside = outside_client(app, base)
            yield server, app, outside, base, relay
            outside.session.close()


def _inbound_sms(base: str) -> requests.Response:
    """Twilio's webhook for a customer's text, signed as Twilio signs it."""
    url = base + "/webhooks/twilio/sms"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, SMS)
    return requests.post(url, data=SMS, headers={"X-Twilio-Signature": signature}, timeout=30)


def _readiness(base: str) -> tuple[int, dict]:
    response = requests.get(base + "/readyz", timeout=30)
    return response.status_code, response.json()


def test_a_crash_under_load_loses_nothing_acknowledged_and_counts_nothing_twice(crashing):
    server, app, outside, base, relay = crashing
    survey = outside.post("/surveys", {"name": "Delivery NPS", "kind": "nps", "locales": ["en"]})
    outside.post("/triggers", {"touchpoint": "order.delivered", "survey_id": survey["id"], "channels": ["web"]})
    integrators = [Integrator(base, outside.session.headers["Authorization"].split()[1], f"i{n}") for n in range(2)]
    for integrator in integrators:
        integrator.start()

    def acknowledged() -> int:
        return sum(len(i.acknowledged) for i in integrators)

    def refused() -> int:
        return sum(i.statuses[503] for i in integrators)

    wait_until(lambda: acknowledged() >= 20, timeout=60, what="20 events before the crash")
    server.crash()
    # The database is down until the test starts it again: every probe and every post must say so.
    status, readiness = _readiness(base)
    assert (status, readiness["checks"]["database"]) == (503, "unavailable"), readiness
    wait_until(lambda: refused() >= 3, timeout=60, what="integrators being told 503 while the database is down")
    page = requests.post(integrators[0].acknowledged[next(iter(integrators[0].acknowledged))]["dispatches"][0]["url"],
                         data={"score": "9"}, timeout=30)
    assert page.status_code == 503 and page.headers["Retry-After"]
    refused_sms = _inbound_sms(base)  # Twilio retries a webhook that failed; it must fail clearly, not as a 500
    assert refused_sms.status_code == 503 and refused_sms.headers["Retry-After"]
    server.start()
    wait_until(lambda: _readiness(base)[0] == 200, timeout=60, what="/readyz recovering after the restart")
    after = acknowledged()
    wait_until(lambda: acknowledged() >= after + 20, timeout=60, what="20 more events after the restart")
    for integrator in integrators:
        integrator.stopping.set()
    for integrator in integrators:
        integrator.join(timeout=60)
        assert not integrator.is_alive() and integrator.failure is None, integrator.failure
    assert relay.is_alive()
    assert _inbound_sms(base).status_code == 200 and _inbound_sms(base).status_code == 200  # Twilio's retry, twice
    assert sum(i.statuses[500] for i in integrators) == 0

    keys = {key: body for integrator in integrators for key, body in integrator.acknowledged.items()}
    # A replay after the storm answers what the first acknowledgement said, and stores nothing new.
    some_key = next(iter(keys))
    replay = outside.post("/events", {"touchpoint": "order.delivered",
                                      "contact": {"external_id": f"{some_key.split('-')[0]}-c{int(some_key.split('-')[1]) % 7}"},
                                      "attributes": {"order_id": some_key}}, status=202, **{"Idempotency-Key": some_key})
    assert replay == keys[some_key]
    with app.app_context():
        orders = Counter(db.session.scalars(sa.select(Event.attributes["order_id"].as_string())))
        dispatches = Counter(db.session.scalars(sa.select(Dispatch.event_id)))
        event_ids = {body["id"] for body in keys.values()}
        stored_ids = set(db.session.scalars(sa.select(Event.id)))
        db.session.remove()
    assert set(orders) == set(keys) and max(orders.values()) == 1  # every acknowledged event, once
    assert event_ids == stored_ids
    assert all(dispatches[event_id] == 1 for event_id in event_ids)  # one dispatch each, none planned twice

    # Customers answer after the restart, retrying a refused post as a browser's user would: one response each.
    links = [body["dispatches"][0]["url"] for body in list(keys.values())[:5]]
    for link in links:
        assert requests.post(link, data={"score": "3"}, timeout=30).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == len(links)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage).where(
            InboundMessage.provider_event_id == SMS["MessageSid"])) == 1  # kept once, however often it came
        db.session.remove()
