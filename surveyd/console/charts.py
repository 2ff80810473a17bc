"""Server-drawn SVG charts: a score's trend, placed in a fixed viewBox, with each point's numbers kept for the
table beside it (the chart is a picture of the table, never the only place a number is)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from surveyd.services.design.scales import SCALES, band

# Where each kind's score lives: NPS -100..100, CSAT % satisfied 0..100, CES mean 1..7.
RANGES = {"nps": (-100.0, 100.0), "csat": (0.0, 100.0), "ces": (1.0, 7.0)}
WIDTH, HEIGHT, PAD = 320.0, 120.0, 12.0


@dataclass(frozen=True)
class Point:
    """One period on the chart."""

    x: float
    y: float
    period: str
    score: float
    n: int
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Trend:
    """A trend ready to draw: its points, the polyline through them, and where the zero (or midline) sits."""

    points: tuple[Point, ...]
    line: str
    baseline: float
    top: float
    bottom: float


def trend(kind: str, series: list[dict[str, Any]]) -> Trend:
    """The chart of a metric's series (periods without answers are left out, not drawn as zero)."""
    lo, hi = RANGES[kind]
    shown = [p for p in series if p.get("n") and p.get("score") is not None]

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (value - lo) / (hi - lo) * (HEIGHT - 2 * PAD), 1)

    step = (WIDTH - 2 * PAD) / max(1, len(shown) - 1)
    points = tuple(Point(x=round(PAD + i * step if len(shown) > 1 else WIDTH / 2, 1), y=y(p["score"]),
                         period=p["period_start"], score=p["score"], n=p["n"],
                         low=(p.get("interval") or {}).get("low"), high=(p.get("interval") or {}).get("high"))
                   for i, p in enumerate(shown))
    line = " ".join(f"{p.x},{p.y}" for p in points)
    middle = 0.0 if kind == "nps" else (50.0 if kind == "csat" else 4.0)
    return Trend(points=points, line=line, baseline=y(middle), top=y(hi), bottom=y(lo))


@dataclass(frozen=True)
class Bar:
    """One score's bar: where it sits, how many gave that score, and the band the score is in."""

    x: float
    y: float
    width: float
    height: float
    score: int
    count: int
    band: str


@dataclass(frozen=True)
class Distribution:
    """How many answers gave each score, ready to draw; the tallest bar fills the chart."""

    bars: tuple[Bar, ...]
    total: int
    base: float  # the y of the bars' foot

    @property
    def bands(self) -> dict[str, int]:
        """How many answers fall in each band."""
        found = {"negative": 0, "neutral": 0, "positive": 0}
        for bar in self.bars:
            found[bar.band] += bar.count
        return found


def distribution(kind: str, counts: dict[str, int]) -> Distribution:
    """The bars of a metric's distribution ({"0": 3, ...} as the metrics give it), one per point of the scale,
    zero counts included (a missing bar would read as a gap)."""
    low, high = SCALES[kind]
    points = range(low, high + 1)
    tallest = max([counts.get(str(p), 0) for p in points] + [1])
    slot = (WIDTH - 2 * PAD) / len(points)
    base = HEIGHT - PAD
    bars = []
    for i, point in enumerate(points):
        count = counts.get(str(point), 0)
        height = round(count / tallest * (HEIGHT - 2 * PAD), 1)
        bars.append(Bar(x=round(PAD + i * slot + slot * 0.15, 1), y=round(base - height, 1), width=round(slot * 0.7, 1),
                        height=height, score=point, count=count, band=band(kind, point)))
    return Distribution(bars=tuple(bars), total=sum(b.count for b in bars), base=base)
