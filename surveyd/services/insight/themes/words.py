"""The words that set a theme apart: class-based TF-IDF over its comments' folded words, stop words out, each shown
in the form customers wrote most often. Pure."""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

from surveyd.services.insight.sentiment.text import fold, resolve_locale
from surveyd.services.insight.themes.stopwords import STOPWORDS

WORDS_PER_THEME = 4
_WORD = re.compile(r"^[^\W\d_]+(?:['’][^\W\d_]+)?$", re.UNICODE)
_SURFACE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


def content_words(folded: list[str], locale: str) -> list[str]:
    """The folded tokens that can say what a comment is about: letters only, not stop words, not one letter."""
    stop = STOPWORDS.get(locale, frozenset())
    return [word for word in folded if len(word) > 1 and _WORD.match(word) and word not in stop]


def theme_words(comments: list[tuple[str, str | None]], labels: list[int], per_theme: int = WORDS_PER_THEME
                ) -> dict[int, list[str]]:
    """{label: words} for every label >= 0: the words frequent in that theme and rare in the others."""
    per_label: dict[int, Counter] = defaultdict(Counter)
    comment_count: dict[int, Counter] = defaultdict(Counter)
    surfaces: dict[str, Counter] = defaultdict(Counter)
    for (text, locale), label in zip(comments, labels):
        if label < 0:
            continue
        locale = resolve_locale(text, locale)
        words = []
        for surface in _SURFACE.findall(text):
            folded = fold(surface, locale)
            if content_words([folded], locale):
                words.append(folded)
                surfaces[folded][surface.lower() if locale != "tr" else surface] += 1
        per_label[label].update(words)
        comment_count[label].update(set(words))
    if not per_label:
        return {}
    overall: Counter = Counter()
    for counts in per_label.values():
        overall.update(counts)
    average = sum(overall.values()) / len(per_label)
    found = {}
    for label, counts in per_label.items():
        total = sum(counts.values()) or 1
        size = max(comment_count[label].values(), default=1)
        scored = []
        for word, count in counts.items():
            if size >= 4 and comment_count[label][word] < 2:
                continue  # one comment's word does not name a theme
            scored.append((count / total * math.log(1 + average / overall[word]), word))
        scored.sort(key=lambda item: (-item[0], item[1]))
        found[label] = [surfaces[word].most_common(1)[0][0] for _, word in scored[:per_theme]]
    return found
