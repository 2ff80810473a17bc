"""What every sentiment analyser returns, and the interface each one offers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

LABELS = ("negative", "neutral", "positive")
THRESHOLD = 0.25  # |score| below this is neutral: "ok", "fine", a fact or a question


@dataclass(frozen=True)
class Sentiment:
    """A comment's label ("negative", "neutral", "positive"), its score in [-1, 1] and the analyser that gave it."""

    label: str
    score: float
    model: str


class Analyser(Protocol):
    """Anything that labels a comment: a name and `analyse(text, locale)`."""

    name: str

    def analyse(self, text: str, locale: str | None = None) -> Sentiment:
        """The label and score of one comment; `locale` is a hint, the script decides when it is missing."""


def label_for(score: float) -> str:
    """The label a score in [-1, 1] falls under."""
    if score >= THRESHOLD:
        return "positive"
    if score <= -THRESHOLD:
        return "negative"
    return "neutral"
