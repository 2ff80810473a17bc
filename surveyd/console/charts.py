"""Server-drawn SVG charts: a score's trend, placed in a fixed viewBox, with each point's numbers kept for the
table beside it (the chart is a picture of the table, never the only place a number is)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
