"""Per API key rate limit: a token bucket per key, 429 with Retry-After past it, nothing changed by a refused
request; shared through Redis by every process; requests go through when Redis is gone. Time is a clock the test
moves, never the wall clock."""
from __future__ import annotations

import dataclasses
import logging
import uuid

import pytest

from surveyd.api import rate_limit
from surveyd.config import ConfigError, load_settings
from surveyd.services.access.api_keys import create_api_key
from surveyd.services.dispatch.rate_limits import MemoryLimiter, RedisLimiter
from tests.api.helpers import create_survey, create_trigger, error_of, ok, snapshot
from tests.conftest import ApiClient

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(app):
    """The app with a limit of 2 requests/s and a burst of 3 per key, on a clock the test moves."""
    settings = app.config["SURVEYD"]
    clock = Clock()
    app.config["SURVEYD"] = dataclasses.replace(settings, api_rate=2.0, api_burst=3)
    app.extensions[rate_limit._EXTENSION] = MemoryLimiter(clock=clock)
    yield clock
    app.config["SURVEYD"] = settings
    app.extensions.pop(rate_limit._EXTENSION, None)


def second_key(app, client) -> ApiClient:
    with app.app_context():
        _, raw = create_api_key("second")
    return ApiClient(client, raw)


def test_past_the_burst_a_key_gets_429_with_retry_after_until_its_bucket_refills(app, client, api, limited):
    for _ in range(3):
        ok(api.get("/surveys"), 200)
    refused = api.get("/surveys")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.get_json()["error"]["code"] == "rate_limited"
    other = second_key(app, client)
    ok(other.get("/surveys"), 200)  # every key has its own bucket
    limited.now += 0.5  # one token at 2/s
    ok(api.get("/surveys"), 200)
    assert api.get("/surveys").status_code == 429
    limited.now += 10  # refilled to the burst, no further
    for _ in range(3):
        ok(api.get("/surveys"), 200)
    assert api.get("/surveys").status_code == 429


def test_a_refused_request_changes_nothing(app, api, limited):
    survey = create_survey(api)
    create_trigger(api, survey["id"])
    ok(api.get("/surveys"), 200)  # the third token
    before = snapshot(app)
    refused = api.post("/events", json={"touchpoint": "order.delivered", "contact": {"external_id": "c-1"}})
    assert error_of(refused, 429)["code"] == "rate_limited"
    assert snapshot(app) == before


def test_requests_without_a_valid_key_are_refused_before_the_limit_and_do_not_drain_it(client, api, limited):
    for _ in range(5):
        assert client.get("/api/v1/surveys").status_code == 401
        assert client.get("/api/v1/surveys", headers={"Authorization": "Bearer nope"}).status_code == 401
    for _ in range(3):
        ok(api.get("/surveys"), 200)


def test_the_openapi_document_is_not_limited(client, limited):
    for _ in range(10):
        assert client.get("/api/v1/openapi.json").status_code == 200


def test_processes_share_one_bucket_through_redis(app, api, limited):
    prefix = f"surveyd:test:{uuid.uuid4().hex}:"
    # Two processes' limiters: two clients of one Redis, one clock (Redis's own TIME in production).
    first, second = RedisLimiter(REDIS_URL, prefix=prefix, clock=limited), RedisLimiter(REDIS_URL, prefix=prefix,
                                                                                         clock=limited)
    try:
        for limiter in (first, second, first):
            app.extensions[rate_limit._EXTENSION] = limiter
            ok(api.get("/surveys"), 200)
        app.extensions[rate_limit._EXTENSION] = second
        refused = api.get("/surveys")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    finally:
        for key in first.client.scan_iter(prefix + "*"):
            first.client.delete(key)


def test_without_redis_requests_go_through_and_a_warning_is_logged(app, api, limited, caplog, monkeypatch):
    monkeypatch.setattr(rate_limit, "_last_warning", [float("-inf")])
    monkeypatch.setattr(rate_limit, "_skip_until", [float("-inf")])
    app.extensions[rate_limit._EXTENSION] = RedisLimiter("redis://127.0.0.1:1/0")  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="surveyd.api.rate_limit"):
        for _ in range(5):
            ok(api.get("/surveys"), 200)
    warnings = [r for r in caplog.records if "rate limit not applied" in r.getMessage()]
    assert len(warnings) == 1
    assert rate_limit._skip_until[0] > float("-inf")  # the next requests do not each wait for Redis


def test_rate_settings(tmp_path):
    base = {"SURVEYD_SECRET_KEY": "s" * 32}
    default = load_settings(tmp_path, base)
    assert (default.api_rate, default.api_burst) == (100.0, 200)
    assert load_settings(tmp_path, {**base, "SURVEYD_API_RATE": "5"}).api_burst == 10
    assert load_settings(tmp_path, {**base, "SURVEYD_API_RATE": "0"}).api_rate == 0
    tuned = load_settings(tmp_path, {**base, "SURVEYD_API_RATE": "0.5", "SURVEYD_API_BURST": "4"})
    assert (tuned.api_rate, tuned.api_burst) == (0.5, 4)
    for name, value in (("SURVEYD_API_RATE", "-1"), ("SURVEYD_API_RATE", "fast"), ("SURVEYD_API_RATE", "inf"),
                        ("SURVEYD_API_RATE", "nan"), ("SURVEYD_API_BURST", "0"), ("SURVEYD_API_BURST", "2.5")):
        with pytest.raises(ConfigError, match=name):
            load_settings(tmp_path, {**base, name: value})
