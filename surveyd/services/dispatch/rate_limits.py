"""Token buckets that pace sends to providers, shared by every worker process when Redis is available."""
from __future__ import annotations

import threading
import time
from typing import Callable, Protocol, Sequence

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from bots.channel import RateLimit

# Float refill arithmetic can leave 0.9999999 tokens after waiting exactly the time we returned;
# without this slack the caller would be told to wait a few nanoseconds more, forever.
_EPSILON = 1e-9


class Limiter(Protocol):
    """Paces sends: take a token from every bucket a send needs, or learn how long to wait."""

    def acquire(self, limits: Sequence[RateLimit]) -> float:
        """Take one token from every bucket at once and return 0.0; or take nothing and return the seconds to wait."""

    def pause(self, key: str, seconds: float) -> None:
        """The provider said back off (429 Retry-After): every acquire on that bucket waits at least that long."""


def _unique(limits: Sequence[RateLimit]) -> list[RateLimit]:
    """The limits with each key once (the first wins), so a bucket listed twice is not drained twice."""
    seen: dict[str, RateLimit] = {}
    for limit in limits:
        seen.setdefault(limit.key, limit)
    return list(seen.values())


class MemoryLimiter:
    """Token buckets for one process (tests, a single worker, no Redis); thread-safe."""

    _SWEEP_EVERY = 1000

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float, float]] = {}  # key -> (tokens, at, full_at)
        self._paused_until: dict[str, float] = {}
        self._calls = 0

    def acquire(self, limits: Sequence[RateLimit]) -> float:
        """Take one token from every bucket at once and return 0.0; or take nothing and return the seconds to wait."""
        limits = _unique(limits)
        with self._lock:
            now = self._clock()
            wait = 0.0
            levels: list[tuple[RateLimit, float, float]] = []
            for limit in limits:
                wait = max(wait, self._paused_until.get(limit.key, now) - now)
                if limit.per_second <= 0:
                    continue
                capacity = max(limit.burst, 1)
                tokens, at, _ = self._buckets.get(limit.key, (capacity, now, now))
                tokens = min(capacity, tokens + max(0.0, now - at) * limit.per_second)
                if tokens < 1 - _EPSILON:
                    wait = max(wait, (1 - tokens) / limit.per_second)
                levels.append((limit, capacity, tokens))
            if wait > 0:
                return wait
            for limit, capacity, tokens in levels:
                left = max(0.0, tokens - 1)
                self._buckets[limit.key] = (left, now, now + (capacity - left) / limit.per_second)
            self._sweep(now)
            return 0.0

    def pause(self, key: str, seconds: float) -> None:
        """The provider said back off (429 Retry-After): every acquire on that bucket waits at least that long."""
        with self._lock:
            until = self._clock() + seconds
            if until > self._paused_until.get(key, float("-inf")):
                self._paused_until[key] = until

    def _sweep(self, now: float) -> None:
        """Forget full buckets and ended pauses now and then, as Redis expiry does, so per-chat keys don't pile up."""
        self._calls += 1
        if self._calls % self._SWEEP_EVERY:
            return
        self._buckets = {k: v for k, v in self._buckets.items() if v[2] > now}
        self._paused_until = {k: v for k, v in self._paused_until.items() if v > now}


# KEYS come in pairs (bucket hash, pause key) per limit; ARGV in pairs (per_second, burst), then the
# float slack, then the time in ms ('' = Redis's own TIME, so workers on machines with skewed clocks
# agree; tests pass a clock they move by hand). Every bucket is read before any is written, so an
# empty one leaves the others untouched. A pause key holds the time it ends. Keys expire a minute after
# they stop mattering (a missing bucket reads as full, a missing pause as none): expiry only tidies up,
# and never decides a wait, which is always computed from the stored times.
_NOW_LUA = """
local function now_ms(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
"""

_ACQUIRE_LUA = _NOW_LUA + """
local now = now_ms(ARGV[#ARGV])
local slack = tonumber(ARGV[#ARGV - 1])
local n = #KEYS / 2
local wait = 0
local levels = {}
for i = 1, n do
  local paused = redis.call('GET', KEYS[2 * i])
  if paused and tonumber(paused) - now > wait then wait = tonumber(paused) - now end
  local rate = tonumber(ARGV[2 * i - 1]) / 1000
  if rate > 0 then
    local capacity = math.max(tonumber(ARGV[2 * i]), 1)
    local state = redis.call('HMGET', KEYS[2 * i - 1], 'tokens', 'at')
    local tokens = capacity
    if state[1] then
      tokens = math.min(capacity, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
    end
    if tokens < 1 - slack then
      wait = math.max(wait, (1 - tokens) / rate)
    end
    levels[i] = {rate, capacity, tokens}
  end
end
if wait > 0 then return string.format('%.17g', wait) end
for i, level in pairs(levels) do
  local left = math.max(0, level[3] - 1)
  redis.call('HSET', KEYS[2 * i - 1], 'tokens', string.format('%.17g', left), 'at', string.format('%.17g', now))
  redis.call('PEXPIRE', KEYS[2 * i - 1], math.ceil((level[2] - left) / level[1]) + 60000)
end
return '0'
"""

# A pause only ever extends: the provider's longest Retry-After wins.
_PAUSE_LUA = _NOW_LUA + """
local ends = now_ms(ARGV[2]) + tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) < ends then
  redis.call('SET', KEYS[1], string.format('%.17g', ends), 'PX', tonumber(ARGV[1]) + 60000)
end
"""


class RedisLimiter:
    """Token buckets in Redis, shared by every worker process; each acquire is one atomic script."""

    def __init__(self, url_or_client: str | redis.Redis, prefix: str = "surveyd:rl:",
                 clock: Callable[[], float] | None = None):
        if isinstance(url_or_client, str):
            # redis-py's default retries back off for up to ~14 s; a dispatch worker should hear
            # quickly that Redis is gone and decide for itself.
            url_or_client = redis.Redis.from_url(
                url_or_client,
                socket_connect_timeout=2,
                socket_timeout=2,
                retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2),
            )
        self.client = url_or_client
        self.prefix = prefix
        self._clock = clock  # seconds; None = Redis's TIME, the one clock every worker shares
        self._acquire = url_or_client.register_script(_ACQUIRE_LUA)
        self._pause = url_or_client.register_script(_PAUSE_LUA)

    def acquire(self, limits: Sequence[RateLimit]) -> float:
        """Take one token from every bucket at once and return 0.0; or take nothing and return the seconds to wait."""
        limits = _unique(limits)
        if not limits:
            return 0.0
        keys: list[str] = []
        args: list[str] = []
        for limit in limits:
            keys += [f"{self.prefix}b:{limit.key}", f"{self.prefix}p:{limit.key}"]
            args += [repr(float(max(limit.per_second, 0))), str(int(limit.burst))]
        args += [repr(_EPSILON), self._now_ms()]
        wait_ms = float(self._acquire(keys=keys, args=args))
        return wait_ms / 1000 if wait_ms > 0 else 0.0

    def pause(self, key: str, seconds: float) -> None:
        """The provider said back off (429 Retry-After): every acquire on that bucket waits at least that long."""
        ms = int(seconds * 1000 + 0.999)
        if ms > 0:
            self._pause(keys=[f"{self.prefix}p:{key}"], args=[ms, self._now_ms()])

    def _now_ms(self) -> str:
        return "" if self._clock is None else repr(self._clock() * 1000)


def build_limiter(redis_url: str | None) -> Limiter:
    """A limiter shared through Redis when a URL is given, else one for this process alone."""
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
