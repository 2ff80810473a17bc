"""Publishing events: one delivery per endpoint that wants it, written in the caller's transaction, handed to the
sender on commit; payloads cut under 20 kB; notify-target URLs get an endpoint of their own on first use."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from surveyd.extensions import db
from surveyd.models import WebhookDelivery, WebhookEndpoint, utcnow
from surveyd.services.integrations import delivering, endpoints, publishing
from tests import factories

URL = "https://hooks.example.com/surveyd"


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


def deliveries() -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_one_delivery_per_enabled_endpoint_that_wants_the_event_handed_over_on_commit(ctx, handed):
    first, second = factories.survey(), factories.survey(name="Other")
    everywhere = endpoints.create_endpoint(URL + "/all", ["response.created", "alert.created"])
    only_first = endpoints.create_endpoint(URL + "/first", ["response.created"], [first.id])
    endpoints.create_endpoint(URL + "/alerts", ["alert.created"])
    disabled = endpoints.create_endpoint(URL + "/off", ["response.created"])
    disabled.disabled_at, disabled.disabled_reason = utcnow(), "gone"
    db.session.commit()

    written = publishing.publish("response.created", {"response_id": 7}, first.id)
    assert [row.endpoint_id for row in written] == [everywhere.id, only_first.id]
    assert handed.handed == []  # nothing leaves before the commit
    db.session.commit()
    assert handed.handed == [(delivering.TASK, row.id) for row in written]
    assert [row.endpoint_id for row in publishing.publish("response.created", {}, second.id)] == [everywhere.id]

    row = written[0]
    assert set(row.payload) == {"type", "timestamp", "data"}
    assert row.payload["type"] == "response.created" and row.payload["data"] == {"response_id": 7}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row.payload["timestamp"])
    assert re.fullmatch(r"msg_[A-Za-z0-9_-]{24}", row.msg_id) and row.msg_id != written[1].msg_id


def test_a_rolled_back_transaction_delivers_nothing(ctx, handed):
    endpoints.create_endpoint(URL, ["response.created"])
    publishing.publish("response.created", {"response_id": 1}, None)
    db.session.rollback()
    db.session.commit()
    assert deliveries() == [] and handed.handed == []


def test_the_data_is_built_only_when_an_endpoint_listens(ctx):
    calls = []
    assert publishing.publish("alert.updated", lambda: calls.append(1) or {}, None) == []
    endpoints.create_endpoint(URL, ["alert.updated"])
    publishing.publish("alert.updated", lambda: calls.append(1) or {"alert_id": 3}, None)
    assert calls == [1]


def test_an_event_of_no_survey_reaches_every_endpoint_subscribed_to_it(ctx):
    survey = factories.survey()
    hook = endpoints.create_endpoint(URL, ["contact.opted_out"], [survey.id])
    assert [row.endpoint_id for row in publishing.publish("contact.opted_out", {"contact": "c-1"}, None)] == [hook.id]


def test_a_keyed_event_published_again_writes_nothing_more(ctx):
    endpoints.create_endpoint(URL, ["alert.created"])
    assert len(publishing.publish("alert.created", {"alert_id": 1}, None, key="alert:1")) == 1
    assert publishing.publish("alert.created", {"alert_id": 1}, None, key="alert:1") == []
    assert len(publishing.publish("alert.created", {"alert_id": 2}, None, key="alert:2")) == 1


def test_a_payload_over_20_kb_has_its_long_texts_cut(ctx):
    endpoints.create_endpoint(URL, ["response.completed"])
    data = {"response_id": 9, "score": 2, "answers": [{"value": "é" * 9000}, {"value": "ok"}], "note": "n" * 8000}
    (row,) = publishing.publish("response.completed", data, None)
    body = publishing.body_bytes(row.payload)
    assert len(body) <= publishing.MAX_PAYLOAD_BYTES
    assert row.payload["data"]["truncated"] is True and row.payload["data"]["score"] == 2
    assert row.payload["data"]["answers"][0]["value"].endswith("…") and row.payload["data"]["answers"][1] == {
        "value": "ok"}
    small = {"type": "x", "timestamp": "t", "data": {"a": "b"}}
    assert publishing.fitted(small) is small


def test_a_notify_url_gets_an_endpoint_of_its_own_on_first_use_that_subscribes_to_no_survey(ctx):
    survey = factories.survey()
    (first,) = publishing.deliver_to_urls([URL, URL], "alert.created", {"alert_id": 1}, key="alert:1")
    (second,) = publishing.deliver_to_urls([URL], "alert.created", {"alert_id": 2}, key="alert:2")
    made = db.session.get(WebhookEndpoint, first.endpoint_id)
    assert second.endpoint_id == made.id
    assert (made.url, made.events, made.survey_ids) == (URL, ["alert.created"], [])
    assert made.secret.startswith("whsec_")
    assert publishing.publish("alert.created", {"alert_id": 3}, survey.id) == []  # its target's filter decides


def test_a_registered_url_signs_the_notify_delivery_and_gets_the_alert_once(ctx):
    older = endpoints.create_endpoint(URL, ["alert.created"])
    newer = endpoints.create_endpoint(URL, ["alert.created"])  # the integrator registered it again: newest wins
    subscribed = publishing.publish("alert.created", {"alert_id": 1}, None, key="alert:1")
    assert {row.endpoint_id for row in subscribed} == {older.id, newer.id}
    assert publishing.deliver_to_urls([URL], "alert.created", {"alert_id": 1}, key="alert:1") == []
    assert len(publishing.deliver_to_urls([URL], "alert.created", {"alert_id": 2}, key="alert:2")) == 1


def test_a_disabled_endpoint_of_a_notify_url_gets_nothing_and_no_twin(ctx):
    hook = endpoints.create_endpoint(URL, ["alert.created"])
    hook.disabled_at, hook.disabled_reason = utcnow(), "failing for 24 hours"
    db.session.commit()
    assert publishing.deliver_to_urls([URL], "alert.created", {"alert_id": 1}) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 1
