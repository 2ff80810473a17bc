"""kombu's Redis transport, with one fault fixed: touching a channel whose connection has already closed.

When Redis goes away, Celery closes the consumer's connection, and closing a channel hands its unacknowledged
messages back to the queue. That needs a Redis client; the transport builds one from its connection's address,
and when the connection was already closed (the worker's threads ack finished tasks while it closes) the address
is gone: an AttributeError, which Celery treats as unrecoverable, so the worker shut down (exit 0) instead of
reconnecting. Here that case is the connection error it is, which every caller handles: the close goes on, the
ack is logged as lost, and the consumer reconnects. Messages not handed back stay in Redis's unacked set until
the visibility timeout; the outbox's leases hand their rows out again long before that, and a task claims its row
before it sends, so a late copy sends nothing twice.
"""
from __future__ import annotations

import redis
from kombu.transport import redis as kombu_redis

NAME = "surveyd.redis_broker:Transport"


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
