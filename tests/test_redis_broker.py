"""The Redis transport the workers use survives a connection that closed under a channel (redis_broker.py).

A worker's consumer closes its connection when Redis goes away; a channel closed after that (or a task's ack from
a worker thread) asked the closed connection for its address and failed with an AttributeError, which Celery
takes for an unrecoverable error: the worker exited instead of reconnecting (seen in the Redis outage fault test).
"""
from __future__ import annotations

import os
import uuid

import pytest
import redis
from kombu import Connection

from surveyd.redis_broker import NAME

REDIS_URL = os.environ.get("SURVEYD_TEST_REDIS", "redis://127.0.0.1:6379/14")


def _held_message(transport: str):
    """A connection, a queue and a message taken from it but not acknowledged; then the connection closes under
    the channel, as it does when Celery gives up a lost connection."""
    connection = Connection(REDIS_URL, transport=transport)
    queue = connection.SimpleQueue(f"test-broker-{uuid.uuid4().hex}")
    queue.put({"dispatch_id": 1})
    message = queue.get(timeout=5)
    connection._do_close_transport()
    return connection, queue, message


@pytest.fixture(autouse=True)
def _clean_keys():
    yield
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("*test-broker-*"):
        client.delete(key)
    client.delete("unacked", "unacked_index")


def test_the_stock_transport_fails_with_an_error_celery_cannot_recover_from():
    """Why the subclass exists; when kombu fixes this, this test says the subclass can go."""
    connection, queue, message = _held_message("redis")
    with pytest.raises(AttributeError):
        queue.channel.close()
    with pytest.raises(AttributeError):
        message.ack()


def test_ours_fails_with_a_connection_error_that_every_caller_handles():
    connection, queue, message = _held_message(NAME)
    with pytest.raises(connection.connection_errors) as closing:
        queue.channel.close()
    assert "connection is closed" in str(closing.value)
    with pytest.raises(connection.connection_errors):
        message.ack()


def test_ours_sends_and_receives_like_the_stock_transport():
    connection = Connection(REDIS_URL, transport=NAME)
    try:
        queue = connection.SimpleQueue(f"test-broker-{uuid.uuid4().hex}")
        queue.put({"dispatch_id": 7})
        message = queue.get(timeout=5)
        assert message.payload == {"dispatch_id": 7}
        message.ack()
        with pytest.raises(queue.Empty):
            queue.get(block=False)
    finally:
        connection.close()


def test_the_workers_use_it_on_a_redis_broker_only(app):
    from surveyd import create_app
    from tests.conftest import make_env

    for url, transport in ((REDIS_URL, NAME), ("amqp://guest@127.0.0.1:5672//", None)):
        made = create_app(make_env(app.config["SURVEYD"].database_url, SURVEYD_BROKER_URL=url),
                          instance_path=app.instance_path)
        assert made.extensions["celery"].conf.broker_transport == transport
