"""Per API key rate limit: a token bucket per key (SURVEYD_API_RATE requests/s, SURVEYD_API_BURST at once), in
this process or, when Redis is configured, shared by every web process. Past it: 429 with Retry-After.

The buckets are the same ones that pace sends to providers (services/dispatch/rate_limits.py). When Redis does not
answer, requests go through, without asking it again for a few seconds: the limit protects the service, and
refusing every client because the limiter's store is down would be the outage it exists to prevent. A warning is
logged once a minute, and /readyz reports Redis."""
from __future__ import annotations

import logging
import math
import time

import redis
from flask import current_app

from bots.channel import RateLimit
from surveyd.api.envelope import envelope
from surveyd.services.dispatch.rate_limits import Limiter, MemoryLimiter, RedisLimiter

log = logging.getLogger(__name__)
WARN_EVERY_SECONDS = 60.0
RETRY_REDIS_AFTER_SECONDS = 5.0  # after Redis failed, requests skip the limiter this long instead of each waiting
_EXTENSION = "surveyd.api_rate_limit"


def limiter() -> Limiter:
    """The app's API limiter, built on first use (tests may put their own, with a clock they move, in its place)."""
    extensions = current_app.extensions
    if _EXTENSION not in extensions:
        url = current_app.config["SURVEYD"].redis_url
        extensions[_EXTENSION] = RedisLimiter(url, prefix="surveyd:api:") if url else MemoryLimiter()
    return extensions[_EXTENSION]


_last_warning = [-math.inf]
_skip_until = [-math.inf]


def check(key_id: int):
    """None when the key may make this request; else the 429 response with Retry-After (whole seconds, >= 1)."""
    settings = current_app.config["SURVEYD"]
    if settings.api_rate <= 0:
        return None
    bucket = RateLimit(f"key:{key_id}", settings.api_rate, settings.api_burst)
    if time.monotonic() < _skip_until[0]:
        return None
    try:
        wait = limiter().acquire([bucket])
    except redis.RedisError as error:
        now = time.monotonic()
        _skip_until[0] = now + RETRY_REDIS_AFTER_SECONDS
        if now - _last_warning[0] >= WARN_EVERY_SECONDS:
            _last_warning[0] = now
            log.warning("API rate limit not applied: Redis did not answer (%s)", type(error).__name__)
        return None
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    response, status = envelope(429, f"Too many requests for this API key; try again in {seconds} s.")
    return response, status, {"Retry-After": str(seconds)}
