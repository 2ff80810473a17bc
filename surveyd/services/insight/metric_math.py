"""Pure-stdlib statistics for NPS, CSAT and CES: scores, shares and 95% intervals."""
from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

from surveyd.services.design.scales import BANDS, check_score, scale

MIN_N_FOR_INTERVAL = 2
_Z975 = 1.959963984540054  # standard normal 0.975 quantile
_CF_DF_LIMIT = 1000  # above this the Cornish-Fisher series is exact to ~1e-15 and much cheaper


@dataclass(frozen=True)
class Interval:
    """A closed interval [low, high]."""

    low: float
    high: float


@dataclass(frozen=True)
class Summary:
    """One metric's score, sample size, 95% intervals, distribution and band shares."""

    kind: str
    n: int
    score: float | None
    interval: Interval | None
    distribution: dict[int, int]
    shares: dict[str, float | None]
    share_interval: Interval | None


def wilson_interval(successes: int, n: int, z: float = _Z975) -> Interval | None:
    """Wilson score interval for a binomial proportion (0..1); None when n == 0."""
    for name, value in (("successes", successes), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"wilson_interval: {name} must be an int, got {value!r}")
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At p == 0 or 1 the bound equals p exactly in real arithmetic; pin it so float
    # rounding cannot exclude the observed proportion.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def _betacf(a: float, b: float, x: float) -> float:
    # Continued fraction for the incomplete beta (modified Lentz; Numerical Recipes 6.4).
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 20000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    # Regularized incomplete beta I_x(a, b).
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast only on this side of the mode; use symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_quantile_975(df: int) -> float:
    """Two-sided 95% Student t critical value (the 0.975 quantile) for df >= 1."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"t_quantile_975: df must be an int >= 1, got {df!r}")
    if df > _CF_DF_LIMIT:
        # Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5); error is O(df**-5).
        z, v = _Z975, float(df)
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
        g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
        return z + g1 / v + g2 / v**2 + g3 / v**3 + g4 / v**4
    return _t_bisect(df)


@functools.lru_cache(maxsize=2048)  # ~60 incomplete-beta evaluations per df; CES asks per request
def _t_bisect(df: int) -> float:
    # P(|T| > t) = I_x(df/2, 1/2) with x = df / (df + t^2), increasing in x: bisect x
    # for a two-sided tail of 0.05, then map back to t.
    lo, hi = 0.0, 1.0
    while True:
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if _betai(df / 2, 0.5, mid) < 0.05:
            lo = mid
        else:
            hi = mid
    return math.sqrt(df * (1.0 - mid) / mid)


def _scaled(iv: Interval | None) -> Interval | None:
    return None if iv is None else Interval(iv.low * 100, iv.high * 100)


def _nps_interval(promoters: int, detractors: int, n: int) -> Interval:
    # Adjusted Wald (Rocks 2016): add 3 pseudo-answers (0.75 P, 1.5 passive, 0.75 D).
    nt = n + 3
    p, d = (promoters + 0.75) / nt, (detractors + 0.75) / nt
    centre = p - d
    half = _Z975 * math.sqrt((p + d - centre**2) / nt)
    return Interval(max(-1.0, centre - half) * 100, min(1.0, centre + half) * 100)


def summarize(kind: str, scores: Iterable[int]) -> Summary:
    """Summarize raw answers of one kind (see summarize_counts)."""
    scale(kind)
    return summarize_counts(kind, Counter(check_score(kind, s) for s in scores))


def summarize_counts(kind: str, counts: Mapping[int, int]) -> Summary:
    """Summarize a score -> count mapping (e.g. a SQL GROUP BY) of one kind."""
    lo, hi = scale(kind)
    dist = {k: 0 for k in range(lo, hi + 1)}
    for score, count in counts.items():
        check_score(kind, score)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{kind} count for score {score} must be an int >= 0, got {count!r}")
        dist[score] += count
    n = sum(dist.values())
    neg_max, pos_min = BANDS[kind]
    neg = sum(c for k, c in dist.items() if k <= neg_max)
    pos = sum(c for k, c in dist.items() if k >= pos_min)
    has_iv = n >= MIN_N_FOR_INTERVAL
    # Integer numerators keep int/int division correctly rounded, so scores never leave range.
    pct = (lambda c: 100 * c / n) if n else (lambda c: None)
    if kind == "nps":
        score = 100 * (pos - neg) / n if n else None
        interval = _nps_interval(pos, neg, n) if has_iv else None
        shares = {"promoters": pct(pos), "passives": pct(n - pos - neg), "detractors": pct(neg)}
        return Summary(kind, n, score, interval, dist, shares, None)
    share_iv = _scaled(wilson_interval(pos, n)) if has_iv else None
    if kind == "csat":
        return Summary(kind, n, pct(pos), share_iv, dist, {"satisfied": pct(pos)}, share_iv)
    mean = sum(k * c for k, c in dist.items()) / n if n else None
    interval = None
    if has_iv:
        var = sum(c * (k - mean) ** 2 for k, c in dist.items()) / (n - 1)
        half = t_quantile_975(n - 1) * math.sqrt(var / n)
        interval = Interval(max(float(lo), mean - half), min(float(hi), mean + half))
    return Summary(kind, n, mean, interval, dist, {"easy": pct(pos)}, share_iv)
