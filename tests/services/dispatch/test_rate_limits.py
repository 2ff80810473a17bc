"""Token buckets: exact behaviour on a fake clock in memory, and the same behaviour shared through real Redis."""
from __future__ import annotations

import socket
import threading
import uuid

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.channel import RateLimit
from surveyd.services.dispatch.rate_limits import (
    MemoryLimiter,
    RedisLimiter,
    build_limiter,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def memory(clock) -> MemoryLimiter:
    return MemoryLimiter(clock=clock)


# --- memory, fake clock -------------------------------------------------------------------------


def test_memory_burst_then_refill_at_rate(memory, clock):
    bucket = [RateLimit("sms:+15550001", per_second=2, burst=3)]
    assert [memory.acquire(bucket) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert memory.acquire(bucket) == pytest.approx(0.5)
    clock.now += 0.25
    assert memory.acquire(bucket) == pytest.approx(0.25)
    clock.now += 0.25
    assert memory.acquire(bucket) == 0.0
    assert memory.acquire(bucket) == pytest.approx(0.5)
    # Idle long enough to refill beyond capacity: still only burst tokens.
    clock.now += 60
    assert [memory.acquire(bucket) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert memory.acquire(bucket) > 0


def test_memory_wait_returned_is_exactly_enough(memory, clock):
    bucket = [RateLimit("tg:all", per_second=3, burst=1)]
    assert memory.acquire(bucket) == 0.0
    for _ in range(20):
        wait = memory.acquire(bucket)
        assert wait == pytest.approx(1 / 3)
        clock.now += wait
        assert memory.acquire(bucket) == 0.0


def test_memory_all_or_nothing_across_buckets(memory, clock):
    overall = RateLimit("tg:all", per_second=30, burst=5)
    assert memory.acquire([overall, RateLimit("tg:chat:1", per_second=1, burst=1)]) == 0.0
    assert memory.acquire([overall, RateLimit("tg:chat:1", per_second=1, burst=1)]) == pytest.approx(1.0)
    # The refusal took nothing from the overall bucket: four tokens remain for other chats.
    for chat in range(2, 6):
        assert memory.acquire([overall, RateLimit(f"tg:chat:{chat}", per_second=1, burst=1)]) == 0.0
    assert memory.acquire([overall, RateLimit("tg:chat:9", per_second=1, burst=1)]) == pytest.approx(1 / 30)


def test_memory_wait_is_max_over_buckets(memory):
    slow, fast = RateLimit("slow", per_second=0.5, burst=1), RateLimit("fast", per_second=10, burst=1)
    assert memory.acquire([slow, fast]) == 0.0
    assert memory.acquire([fast, slow]) == pytest.approx(2.0)


def test_memory_pause_honoured_and_only_extends(memory, clock):
    bucket = [RateLimit("twilio:+1555", per_second=100, burst=10)]
    memory.pause("twilio:+1555", 5)
    assert memory.acquire(bucket) == pytest.approx(5)
    memory.pause("twilio:+1555", 1)
    assert memory.acquire(bucket) == pytest.approx(5)
    memory.pause("twilio:+1555", 8)
    assert memory.acquire(bucket) == pytest.approx(8)
    assert memory.acquire([RateLimit("other", per_second=1, burst=1)]) == 0.0
    clock.now += 8
    assert memory.acquire(bucket) == 0.0


def test_memory_zero_rate_ignored_and_empty_acquire(memory):
    assert memory.acquire([]) == 0.0
    unlimited = RateLimit("email", per_second=0, burst=1)
    assert all(memory.acquire([unlimited]) == 0.0 for _ in range(100))
    assert memory.acquire([unlimited, RateLimit("neg", per_second=-1)]) == 0.0


def test_build_limiter_picks_backend():
    assert isinstance(build_limiter(None), MemoryLimiter)
    assert isinstance(build_limiter(""), MemoryLimiter)
    assert isinstance(build_limiter(REDIS_URL), RedisLimiter)


def _max_in_any_window(times: list[float], rate: float, burst: int) -> None:
    # The busiest window of length T starts and ends on a grant, so checking grant pairs covers all.
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst + rate * (times[j] - times[i]) + 1e-6


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.1, max_value=50),
    burst=st.integers(min_value=1, max_value=6),
    chat_rate=st.floats(min_value=0.1, max_value=5),
    calls=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1.5), st.integers(min_value=0, max_value=2)),
        max_size=80,
    ),
)
def test_memory_never_grants_more_than_burst_plus_rate_times_window(rate, burst, chat_rate, calls):
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    granted: dict[str, list[float]] = {"all": []}
    for step, chat in calls:
        clock.now += step
        key = f"chat:{chat}"
        if limiter.acquire([RateLimit("all", rate, burst), RateLimit(key, chat_rate, 1)]) == 0.0:
            granted["all"].append(clock.now)
            granted.setdefault(key, []).append(clock.now)
    _max_in_any_window(granted.pop("all"), rate, burst)
    for times in granted.values():
        _max_in_any_window(times, chat_rate, 1)


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return client


@pytest.fixture
def prefix(redis_client):
    """A key prefix of this test's own, deleted afterwards."""
    prefix = f"test:rl:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def limiter(redis_client, prefix, clock) -> RedisLimiter:
    """Buckets in real Redis, on a clock the test moves by hand (the script takes it instead of TIME)."""
    return RedisLimiter(redis_client, prefix=prefix, clock=clock)


def test_redis_burst_then_refill(limiter, redis_client, prefix, clock):
    bucket = [RateLimit("sms:+15550001", per_second=10, burst=3)]
    assert [limiter.acquire(bucket) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire(bucket)
    assert wait == pytest.approx(0.1)
    clock.now += 0.05
    assert limiter.acquire(bucket) == pytest.approx(0.05)
    clock.now += 0.05
    assert limiter.acquire(bucket) == 0.0
    assert limiter.acquire(bucket) == pytest.approx(0.1)
    # Idle buckets vanish a minute after they would have refilled (3 tokens at 10/s); until then the
    # stored time, not the expiry, decides.
    assert 60_000 < redis_client.pttl(prefix + "b:sms:+15550001") <= 60_301
    clock.now += 60
    assert [limiter.acquire(bucket) for _ in range(4)][:3] == [0.0, 0.0, 0.0]


def test_redis_all_or_nothing_across_buckets(limiter):
    overall = RateLimit("tg:all", per_second=1, burst=3)
    assert limiter.acquire([overall, RateLimit("tg:chat:1", per_second=1, burst=1)]) == 0.0
    assert limiter.acquire([overall, RateLimit("tg:chat:1", per_second=1, burst=1)]) == pytest.approx(1.0)
    # The refusal took nothing from the overall bucket: two tokens remain for other chats.
    assert limiter.acquire([overall, RateLimit("tg:chat:2", per_second=1, burst=1)]) == 0.0
    assert limiter.acquire([overall, RateLimit("tg:chat:3", per_second=1, burst=1)]) == 0.0
    assert limiter.acquire([overall, RateLimit("tg:chat:4", per_second=1, burst=1)]) == pytest.approx(1.0)


def test_redis_pause_honoured_and_only_extends(limiter, redis_client, prefix, clock):
    bucket = [RateLimit("twilio:+1555", per_second=100, burst=10)]
    limiter.pause("twilio:+1555", 5)
    assert limiter.acquire(bucket) == pytest.approx(5)
    limiter.pause("twilio:+1555", 1)
    assert limiter.acquire(bucket) == pytest.approx(5)
    clock.now += 2
    limiter.pause("twilio:+1555", 8)
    assert limiter.acquire(bucket) == pytest.approx(8)
    assert limiter.acquire([RateLimit("other", per_second=1, burst=1)]) == 0.0
    assert 60_000 < redis_client.pttl(prefix + "p:twilio:+1555") <= 68_000
    clock.now += 7.5
    assert limiter.acquire(bucket) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire(bucket) == 0.0


def test_redis_uses_its_own_clock_when_given_none(redis_client, prefix):
    limiter = RedisLimiter(redis_client, prefix=prefix)
    bucket = [RateLimit("tg:all", per_second=0.001, burst=1)]  # one token per 1,000 s
    assert limiter.acquire(bucket) == 0.0
    assert 900 < limiter.acquire(bucket) <= 1000  # 1,000 s less the time since the first, on Redis's TIME
    limiter.pause("tg:paused", 3600)
    assert 3500 < limiter.acquire([RateLimit("tg:paused", per_second=1, burst=1)]) <= 3600


def test_redis_zero_rate_ignored_and_empty_acquire(limiter, redis_client, prefix):
    assert limiter.acquire([]) == 0.0
    assert all(limiter.acquire([RateLimit("email", per_second=0)]) == 0.0 for _ in range(20))
    assert list(redis_client.scan_iter(match=prefix + "*")) == []


def test_two_workers_share_the_bucket(redis_client, prefix, clock):
    worker_a = RedisLimiter(redis_client, prefix=prefix, clock=clock)
    worker_b = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
    bucket = [RateLimit("tg:all", per_second=1, burst=2)]
    assert worker_a.acquire(bucket) == 0.0
    assert worker_b.acquire(bucket) == 0.0
    assert worker_a.acquire(bucket) == pytest.approx(1.0)
    assert worker_b.acquire(bucket) == pytest.approx(1.0)
    worker_a.pause("tg:other", 0.5)
    assert worker_b.acquire([RateLimit("tg:other", per_second=1, burst=1)]) == pytest.approx(0.5)
    clock.now += 1
    assert worker_b.acquire(bucket) == 0.0
    assert worker_a.acquire(bucket) == pytest.approx(1.0)


def test_threads_hammering_one_bucket_get_exactly_the_tokens_there_are(redis_client, prefix, clock):
    rate, burst, threads = 50, 10, 8
    bucket = [RateLimit("hot", per_second=rate, burst=burst)]

    def hammer(tries: int) -> int:
        """Eight workers, each with its own connection, all asking at once; how many tokens they got."""
        start = threading.Barrier(threads)
        granted = [0] * threads

        def worker(i: int) -> None:
            limiter = RedisLimiter(REDIS_URL, prefix=prefix, clock=clock)
            start.wait()
            granted[i] = sum(limiter.acquire(bucket) == 0.0 for _ in range(tries))

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return sum(granted)

    # The clock stands still while they race, so the script's atomicity is all that stands between
    # 8 x 20 asks and the burst: exactly burst tokens, then exactly what 0.1 s refills.
    assert hammer(20) == burst
    clock.now += 0.1
    assert hammer(20) == rate * 0.1
    clock.now += 60
    assert hammer(20) == burst


def test_unreachable_redis_raises():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = RedisLimiter(f"redis://127.0.0.1:{port}/0")
    with pytest.raises(redis.exceptions.ConnectionError):
        limiter.acquire([RateLimit("tg:all", per_second=30, burst=30)])
