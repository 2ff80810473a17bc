"""Tests for surveyd.services.insight.metric_math: worked examples plus hypothesis properties."""
from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveyd.services.design.scales import SCALES, band
from surveyd.services.insight.metric_math import (
    MIN_N_FOR_INTERVAL,
    Interval,
    Summary,
    summarize,
    summarize_counts,
    t_quantile_975,
    wilson_interval,
)

PROPS = settings(max_examples=150, deadline=None)
# Range each kind's score (and its interval) must stay in.
SCORE_RANGE = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}


def answers(kind: str, min_size: int = 0, max_size: int = 60):
    lo, hi = SCALES[kind]
    return st.lists(st.integers(lo, hi), min_size=min_size, max_size=max_size)


kinds = st.sampled_from(sorted(SCALES))


@st.composite
def kind_and_answers(draw, min_size: int = 0):
    kind = draw(kinds)
    return kind, draw(answers(kind, min_size=min_size))


# --- band -----------------------------------------------------------------------------

BAND_TABLE = {
    "nps": ["negative"] * 7 + ["neutral"] * 2 + ["positive"] * 2,  # 0-6 / 7-8 / 9-10
    "csat": ["negative"] * 2 + ["neutral"] + ["positive"] * 2,  # 1-2 / 3 / 4-5
    "ces": ["negative"] * 3 + ["neutral"] + ["positive"] * 3,  # 1-3 / 4 / 5-7
}


@pytest.mark.parametrize("kind", sorted(BAND_TABLE))
def test_band_every_scale_point(kind):
    lo, hi = SCALES[kind]
    assert [band(kind, s) for s in range(lo, hi + 1)] == BAND_TABLE[kind]


@pytest.mark.parametrize(
    "kind,score,expected",
    [("nps", 6, "negative"), ("nps", 7, "neutral"), ("nps", 8, "neutral"), ("nps", 9, "positive"),
     ("csat", 2, "negative"), ("csat", 3, "neutral"), ("csat", 4, "positive"),
     ("ces", 3, "negative"), ("ces", 4, "neutral"), ("ces", 5, "positive")],
)
def test_band_boundaries(kind, score, expected):
    assert band(kind, score) == expected


@pytest.mark.parametrize("kind,score", [("nps", -1), ("nps", 11), ("csat", 0), ("csat", 6),
                                        ("ces", 0), ("ces", 8), ("nps", True), ("csat", 4.0)])
def test_band_rejects_bad_scores(kind, score):
    with pytest.raises(ValueError, match=kind):
        band(kind, score)


# --- worked examples ---------------------------------------------------------------------

def test_nps_worked_example():
    s = summarize("nps", [10, 9, 8, 0])
    assert s.kind == "nps" and s.n == 4
    assert s.score == pytest.approx(25.0)  # 50% promoters - 25% detractors
    assert s.shares == pytest.approx({"promoters": 50.0, "passives": 25.0, "detractors": 25.0})
    assert s.distribution == {0: 1, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 1, 9: 1, 10: 1}
    # n~=7, p~=2.75/7, d~=1.75/7, centre=1/7, se=sqrt((0.642857-0.020408)/7)=0.298197
    assert s.interval.low == pytest.approx(-44.15977, abs=1e-4)
    assert s.interval.high == pytest.approx(72.73120, abs=1e-4)
    assert s.share_interval is None


def test_nps_interval_is_clipped_and_score_is_raw():
    s = summarize("nps", [10, 9])
    assert s.score == 100.0  # raw NPS, not the adjusted centre (40)
    # centre 0.4, half = z*sqrt(0.108) = 0.644110 -> high 104.41 clipped to 100
    assert s.interval.low == pytest.approx(-24.41099, abs=1e-4)
    assert s.interval.high == 100.0


def test_nps_all_detractors_and_all_passives():
    assert summarize("nps", [0, 3, 6]).score == -100.0
    s = summarize("nps", [7, 8, 7, 8])
    assert s.score == 0.0
    assert s.interval.low == pytest.approx(-s.interval.high)  # symmetric: centre 0


def test_csat_worked_example():
    s = summarize("csat", [5, 4, 3, 2, 1, 5, 4, 4])
    assert s.n == 8
    assert s.score == pytest.approx(62.5)  # 5 of 8 answered 4-5
    assert s.shares == pytest.approx({"satisfied": 62.5})
    assert s.distribution == {1: 1, 2: 1, 3: 1, 4: 3, 5: 2}
    # Wilson 95% for 5/8 is (0.3057, 0.8632)
    assert s.interval.low == pytest.approx(30.5742, abs=1e-3)
    assert s.interval.high == pytest.approx(86.3156, abs=1e-3)
    assert s.share_interval == s.interval


def test_ces_worked_example():
    s = summarize("ces", [7, 6, 5, 4, 3])
    assert s.n == 5
    assert s.score == pytest.approx(5.0)
    assert s.shares == pytest.approx({"easy": 60.0})
    assert s.distribution == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1}
    # s = sqrt(2.5), se = sqrt(0.5), t(4) = 2.776445 -> half 1.963243
    assert s.interval.low == pytest.approx(3.036757, abs=1e-5)
    assert s.interval.high == pytest.approx(6.963243, abs=1e-5)
    # Wilson 95% for 3/5 is (0.2307, 0.8824)
    assert s.share_interval.low == pytest.approx(23.0724, abs=1e-3)
    assert s.share_interval.high == pytest.approx(88.2379, abs=1e-3)


def test_ces_interval_clipped_to_scale():
    s = summarize("ces", [7, 7, 7, 6])
    assert s.score == pytest.approx(6.75)
    # sd 0.5, se 0.25, t(3) = 3.182446 -> 5.9544 .. 7.5456 clipped to 7
    assert s.interval.low == pytest.approx(5.954388, abs=1e-5)
    assert s.interval.high == 7.0


def test_ces_zero_variance_gives_point_interval():
    s = summarize("ces", [4, 4])
    assert s.interval == Interval(4.0, 4.0)


# --- empty / small n -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(SCALES))
def test_empty_input(kind):
    s = summarize(kind, [])
    lo, hi = SCALES[kind]
    assert s == summarize_counts(kind, {})
    assert s.n == 0 and s.score is None and s.interval is None and s.share_interval is None
    assert s.distribution == {k: 0 for k in range(lo, hi + 1)}
    assert s.shares and all(v is None for v in s.shares.values())


@pytest.mark.parametrize("kind,value", [("nps", 9), ("csat", 4), ("ces", 6)])
def test_single_answer_has_score_but_no_interval(kind, value):
    assert MIN_N_FOR_INTERVAL == 2
    s = summarize(kind, [value])
    assert s.n == 1 and s.score is not None
    assert s.interval is None and s.share_interval is None


def test_summary_and_interval_are_frozen():
    s = summarize("csat", [4, 5])
    with pytest.raises(AttributeError):
        s.n = 3
    with pytest.raises(AttributeError):
        s.interval.low = 0.0
    assert isinstance(s, Summary)


# --- invalid input ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["NPS", "csi", "", None, 3])
def test_unknown_kind(kind):
    with pytest.raises(ValueError, match="unknown metric kind"):
        summarize(kind, [1])
    with pytest.raises(ValueError, match="unknown metric kind"):
        summarize_counts(kind, {})
    with pytest.raises(ValueError, match="unknown metric kind"):
        band(kind, 1)


@pytest.mark.parametrize(
    "kind,bad",
    [("nps", 11), ("nps", -1), ("csat", 0), ("csat", 6), ("ces", 0), ("ces", 8),
     ("nps", True), ("ces", False), ("csat", 4.0), ("nps", "9"), ("ces", None)],
)
def test_invalid_scores_raise_with_kind_and_value(kind, bad):
    with pytest.raises(ValueError, match=kind) as exc:
        summarize(kind, [SCALES[kind][0], bad])
    assert repr(bad) in str(exc.value)
    with pytest.raises(ValueError, match=kind):
        summarize_counts(kind, {bad: 1})


@pytest.mark.parametrize("count", [-1, 1.5, True, "2", None])
def test_invalid_counts_raise(count):
    with pytest.raises(ValueError, match="csat"):
        summarize_counts("csat", {4: count})


@pytest.mark.parametrize("successes,n", [(-1, 3), (4, 3), (1, -1), (True, 3), (1, 2.0)])
def test_wilson_rejects_bad_args(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


@pytest.mark.parametrize("df", [0, -3, True, 2.0, None])
def test_t_quantile_rejects_bad_df(df):
    with pytest.raises(ValueError):
        t_quantile_975(df)


# --- wilson & t quantile -------------------------------------------------------------------

def test_wilson_known_values():
    assert wilson_interval(0, 0) is None
    iv = wilson_interval(5, 10)
    assert iv.low == pytest.approx(0.236593, abs=1e-6)
    assert iv.high == pytest.approx(0.763407, abs=1e-6)
    assert wilson_interval(0, 5).low == 0.0
    assert wilson_interval(5, 5).high == 1.0
    # Unpinned, float rounding puts e.g. 0/7 at low > 0 and 10/10 at high < 1.
    for n in range(1, 200):
        assert wilson_interval(0, n).low == 0.0
        assert wilson_interval(n, n).high == 1.0
    # a smaller z must give a narrower interval
    assert wilson_interval(5, 10, z=1.0).low > iv.low


@pytest.mark.parametrize(
    "df,expected",
    [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (10, 2.228), (20, 2.086),
     (30, 2.042), (60, 2.000), (120, 1.980), (1000, 1.962), (10**6, 1.960), (10**12, 1.960)],
)
def test_t_quantile_table(df, expected):
    assert t_quantile_975(df) == pytest.approx(expected, abs=5e-4)


def test_t_quantile_closed_forms():
    assert t_quantile_975(1) == pytest.approx(math.tan(0.475 * math.pi), rel=1e-10)
    assert t_quantile_975(2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025), rel=1e-10)
    a = 4 * 0.975 * 0.025  # df = 4 closed form (Hill 1970)
    q = math.cos(math.acos(math.sqrt(a)) / 3) / math.sqrt(a)
    assert t_quantile_975(4) == pytest.approx(2 * math.sqrt(q - 1), rel=1e-10)


def _t_cdf_mass_0_to(t: float, df: int, steps: int = 4000) -> float:
    # Independent check: Simpson integration of the Student t density over [0, t].
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    f = lambda x: c * (1 + x * x / df) ** (-(df + 1) / 2)  # noqa: E731
    h = t / steps
    total = f(0) + f(t) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, steps))
    return total * h / 3


@pytest.mark.parametrize("df", [1, 2, 3, 6, 9, 17, 45, 99, 250, 999, 1000, 1001, 4000])
def test_t_quantile_inverts_the_t_cdf(df):
    assert _t_cdf_mass_0_to(t_quantile_975(df), df) == pytest.approx(0.475, abs=1e-8)


def test_t_quantile_decreasing_towards_z():
    dfs = list(range(1, 60)) + list(range(980, 1030)) + [10**4, 10**6, 10**9]
    values = [t_quantile_975(df) for df in dfs]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(1.959963984540054, abs=1e-8)


# --- properties -----------------------------------------------------------------------------

@PROPS
@given(answers("nps"))
def test_nps_range_and_definition(scores):
    s = summarize("nps", scores)
    if not scores:
        assert s.score is None
        return
    assert -100.0 <= s.score <= 100.0
    assert s.score == pytest.approx(s.shares["promoters"] - s.shares["detractors"])
    assert sum(s.shares.values()) == pytest.approx(100.0)
    promoters = sum(1 for x in scores if x >= 9)
    detractors = sum(1 for x in scores if x <= 6)
    assert s.score == pytest.approx(100 * (promoters - detractors) / len(scores))


@PROPS
@given(st.data())
def test_nps_permutation_invariant(data):
    scores = data.draw(answers("nps"))
    shuffled = data.draw(st.permutations(scores))
    assert summarize("nps", shuffled) == summarize("nps", scores)


@PROPS
@given(answers("nps", min_size=1), st.sampled_from([9, 10]), st.integers(0, 6))
def test_nps_monotone_in_promoters_and_detractors(scores, promoter, detractor):
    base = summarize("nps", scores).score
    assert summarize("nps", scores + [promoter]).score >= base
    assert summarize("nps", scores + [detractor]).score <= base


@PROPS
@given(kind_and_answers())
def test_summarize_equals_summarize_counts(ka):
    kind, scores = ka
    assert summarize(kind, scores) == summarize_counts(kind, Counter(scores))
    # explicit zero counts and key order do not matter
    lo, hi = SCALES[kind]
    padded = {k: Counter(scores)[k] for k in range(hi, lo - 1, -1)}
    assert summarize_counts(kind, padded) == summarize(kind, scores)


@PROPS
@given(kind_and_answers())
def test_distribution_complete_and_sums_to_n(ka):
    kind, scores = ka
    s = summarize(kind, scores)
    lo, hi = SCALES[kind]
    assert list(s.distribution) == list(range(lo, hi + 1))
    assert sum(s.distribution.values()) == s.n == len(scores)
    assert s.distribution == {k: scores.count(k) for k in range(lo, hi + 1)}


@PROPS
@given(answers("csat", min_size=1))
def test_csat_in_range(scores):
    s = summarize("csat", scores)
    assert 0.0 <= s.score <= 100.0
    assert s.score == pytest.approx(100 * sum(1 for x in scores if x >= 4) / len(scores))


@PROPS
@given(answers("ces", min_size=1))
def test_ces_mean_in_range(scores):
    s = summarize("ces", scores)
    assert 1.0 <= s.score <= 7.0
    assert s.score == pytest.approx(sum(scores) / len(scores))
    assert s.shares["easy"] == pytest.approx(100 * sum(1 for x in scores if x >= 5) / len(scores))


@PROPS
@given(kind_and_answers(min_size=MIN_N_FOR_INTERVAL))
def test_intervals_ordered_within_range_and_contain_score(ka):
    kind, scores = ka
    s = summarize(kind, scores)
    lo, hi = SCORE_RANGE[kind]
    assert s.interval is not None
    assert lo <= s.interval.low <= s.interval.high <= hi
    # Holds for CSAT (Wilson) and CES (t) by construction; for NPS this checks that the
    # adjusted-Wald interval, centred on a shrunk estimate, still covers the raw NPS.
    assert s.interval.low <= s.score <= s.interval.high
    if kind == "nps":
        assert s.share_interval is None
    else:
        si = s.share_interval
        assert 0.0 <= si.low <= si.high <= 100.0
        share = next(iter(s.shares.values()))
        assert si.low <= share <= si.high


@PROPS
@given(st.integers(1, 10**6).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_observed_proportion(kn):
    k, n = kn
    iv = wilson_interval(k, n)
    assert 0.0 <= iv.low <= k / n <= iv.high <= 1.0
    assert iv.low < iv.high


@PROPS
@given(st.integers(2, 5000).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n)).flatmap(
        lambda nP: st.tuples(st.just(nP[0]), st.just(nP[1]), st.integers(0, nP[0] - nP[1])))))
def test_nps_interval_contains_raw_nps_large_n(npd):
    n, promoters, detractors = npd
    counts = {10: promoters, 0: detractors, 7: n - promoters - detractors}
    s = summarize_counts("nps", counts)
    assert s.n == n
    assert -100.0 <= s.interval.low <= s.score <= s.interval.high <= 100.0
