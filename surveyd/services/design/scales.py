"""The answer scales of the survey kinds: their ranges and the bands that make an answer negative or positive."""
from __future__ import annotations

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
# (highest negative answer, lowest positive answer) per kind; anything between is neutral.
BANDS = {"nps": (6, 9), "csat": (2, 4), "ces": (3, 5)}


def scale(kind: str) -> tuple[int, int]:
    """The lowest and highest answer of a kind's scale; ValueError for an unknown kind."""
    if not isinstance(kind, str) or kind not in SCALES:
        raise ValueError(f"unknown metric kind {kind!r}; expected one of {sorted(SCALES)}")
    return SCALES[kind]


def check_score(kind: str, score: object) -> int:
    """The score itself when it is a whole number on the kind's scale; ValueError otherwise."""
    lo, hi = scale(kind)
    # bool is an int subclass, but True/False is never a legitimate survey answer.
    if isinstance(score, bool) or not isinstance(score, int):
        raise ValueError(f"{kind} score must be an int, got {score!r} ({type(score).__name__})")
    if not lo <= score <= hi:
        raise ValueError(f"{kind} score {score!r} is outside the {kind} scale {lo}..{hi}")
    return score


def band(kind: str, score: int) -> str:
    """Classify one answer as "negative", "neutral" or "positive" for its kind."""
    score = check_score(kind, score)
    neg_max, pos_min = BANDS[kind]
    if score <= neg_max:
        return "negative"
    return "positive" if score >= pos_min else "neutral"
