"""The inbox's live stream: a new alert arrives as a row, a change as an update, one that leaves the filter as gone;
streams have a budget of their own and end on their own. Driven by commits the test makes, never by the clock."""
from __future__ import annotations

import dataclasses
import json
import threading
import uuid

import pytest
import redis
import sqlalchemy as sa

from surveyd.console import live
from surveyd.extensions import db
from surveyd.models import Alert
from surveyd.services.alerts import feed as feeds
from tests.api.helpers import create_survey, create_trigger, survey_answer
from tests.console.staff import csrf, signed_in


@pytest.fixture
def survey(api):
    created = create_survey(api, kind="nps", locales=["en"], name="Delivery NPS")
    create_trigger(api, created["id"], channels=["web"])
    return created


def detractor(api, client, app, external_id: str) -> int:
    survey_answer(api, client, 1, external_id=external_id)
    with app.app_context():
        found = db.session.scalar(sa.select(sa.func.max(Alert.id)))
        db.session.remove()
    return found


def events(chunks) -> list[tuple[str, str]]:
    """(event name, data) of each event in the stream's chunks so far."""
    parsed = []
    for chunk in chunks:
        text = chunk.decode()
        if text.startswith(("retry:", ":")):
            parsed.append((text.split("\n")[0], ""))
            continue
        lines = text.strip().split("\n")
        name = next(line[7:] for line in lines if line.startswith("event: "))
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        parsed.append((name, data))
    return parsed


def open_stream(agent, query: str = ""):
    response = agent.get(f"/console/alerts/stream?{query}", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    return response, iter(response.response)


def test_a_new_alert_arrives_as_a_row_and_a_claim_as_an_update(api, client, app, survey):
    first = detractor(api, client, app, "cust-1")
    agent = signed_in(app, "agent")
    response, chunks = open_stream(agent, f"after={first}")
    assert next(chunks) == b"retry: 1000\n\n"
    second = detractor(api, client, app, "cust-2")  # committed while the inbox is open
    (name, row), = events([next(chunks)])
    assert name == "alert" and f'<tr id="alert-{second}">' in row and f"#{second} · Delivery NPS" in row
    agent.post(f"/console/alerts/{second}/claim", data={"csrf_token": csrf(agent, f"/console/alerts/{second}")})
    (name, row), = events([next(chunks)])
    assert name == "update" and "Claimed" in row and "agent@example.com" in row
    response.close()


def test_an_alert_that_leaves_the_filter_is_taken_off_and_the_event_id_is_the_newest_alert(api, client, app, survey):
    agent = signed_in(app, "agent")
    response, chunks = open_stream(agent, "status=open&after=0")
    next(chunks)
    alert_id = detractor(api, client, app, "cust-1")
    first = next(chunks).decode()
    assert first.startswith("event: alert\n") and f"\nid: {alert_id}\n" in first
    agent.post(f"/console/alerts/{alert_id}/claim", data={"csrf_token": csrf(agent, f"/console/alerts/{alert_id}")})
    gone = next(chunks).decode()
    assert gone == f'event: gone\nid: {alert_id}\ndata: <tr id="alert-{alert_id}"></tr>\n\n'
    response.close()


def test_a_reconnecting_browser_gets_what_it_missed_from_its_last_event_id(api, client, app, survey):
    first = detractor(api, client, app, "cust-1")
    missed = detractor(api, client, app, "cust-2")
    agent = signed_in(app, "agent")
    response = agent.get("/console/alerts/stream?after=0", headers={"Last-Event-ID": str(first)}, buffered=False)
    chunks = iter(response.response)
    next(chunks)
    assert [f'id="alert-{missed}"' in data for name, data in events([next(chunks)])] == [True]
    response.close()


@pytest.fixture
def budget_of_one(app):
    settings = app.config["SURVEYD"]
    app.config["SURVEYD"] = dataclasses.replace(settings, console_streams=1)
    app.extensions.pop("surveyd.console_streams", None)
    yield
    app.config["SURVEYD"] = settings
    app.extensions.pop("surveyd.console_streams", None)


def test_streams_beyond_the_budget_are_told_to_come_back_later(app, budget_of_one):
    agent = signed_in(app, "agent")
    first, chunks = open_stream(agent)
    assert next(chunks) == b"retry: 1000\n\n"
    busy, busy_chunks = open_stream(agent)
    assert list(busy_chunks) == [b"retry: 15000\n\n"]  # and it ends at once, holding no thread
    first.close()  # the browser went away: its slot is free again
    again, again_chunks = open_stream(agent)
    assert next(again_chunks) == b"retry: 1000\n\n"
    again.close()


def test_a_quiet_stream_sends_heartbeats_then_ends_and_frees_its_slot(app, budget_of_one, monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.01)
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.05)
    agent = signed_in(app, "agent")
    response, chunks = open_stream(agent)
    assert next(chunks) == b"retry: 1000\n\n"
    rest = list(chunks)  # the stream ends by itself
    assert rest and set(rest) == {b": still here\n\n"}
    with app.app_context():
        assert live.slots().acquire(blocking=False)  # its slot came back
        live.slots().release()
    response.close()


def test_the_local_feed_says_what_was_published_since_and_when_a_stream_fell_behind():
    feed = feeds.LocalFeed()
    start = feed.version
    feed.publish([3])
    feed.publish([4, 3])
    assert feed.wait(start, 0) == (start + 2, {3, 4})
    assert feed.wait(start + 2, 0) == (start + 2, set())  # nothing new: the caller sends a heartbeat
    for n in range(feeds.LocalFeed.KEEP + 1):  # more than it remembers since the stream last looked
        feed.publish([n])
    assert feed.wait(start + 2, 0)[1] is None  # too far behind: read afresh
    feed.push(None)
    assert feed.wait(feed.version - 1, 0)[1] is None


def test_the_redis_feed_wakes_the_streams_of_every_process():
    channel = f"surveyd-test:{uuid.uuid4().hex}"
    url = "redis://127.0.0.1:6379/15"
    publisher, listener = feeds.RedisFeed(url, channel), feeds.RedisFeed(url, channel)  # two web processes
    heard: list = []
    listener._listen()
    probe = redis.Redis.from_url(url)
    # The subscriber is up once Redis counts it on the channel.
    from tests.live import wait_until
    wait_until(lambda: probe.pubsub_numsub(channel)[0][1] == 1, what="the subscriber")
    done = threading.Event()

    def stream():
        heard.append(listener.wait(0, 30))
        done.set()

    threading.Thread(target=stream).start()
    publisher.publish([7, 8])
    assert done.wait(30)
    assert heard == [(1, {7, 8})]
    listener.stop()
    probe.close()
    assert json.loads(json.dumps([7]))  # the wire format is plain JSON
