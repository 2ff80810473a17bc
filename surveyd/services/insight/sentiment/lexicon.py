"""The lexicon analyser: weighted words per language, with negation, intensifiers, contrast and emoji."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .model import Sentiment, label_for
from .text import LOCALES, resolve_locale, tokens

LEXICONS = Path(__file__).resolve().parent / "lexicons"
NEGATION_FACTOR = -0.6  # "not bad" is milder than "good", "not good" milder than "bad"
NEGATION_REACH = 2  # words a negator reaches ahead, boosters not counted: "not at all good", "not the best"
SQUASH = 4.0  # score = total / sqrt(total² + SQUASH): one plain "good" (2) gives 0.71
CLAUSE_BREAKS = frozenset(".,;:!?()-–—")
# Turkish negative verb suffix after a stem, on ASCII-folded text: -ma/-me + past, evidential, aorist, future,
# or -mıyor; an optional passive or causative (-ıl, -ın, -dır) may come first: çöz+ül+medi, ara+madılar.
_TR_NEGATIVE = re.compile(r"^(?:[iu]?[ln]|[dt][iu]r)?(?:m[ae](?:d[iu]|m[iu]s|z|y[ae]c[ae]k|y[ae]n|s[iu]n|m$|y[iu]z)"
                          r"|m[iu]yor)")
# Persian suffixes tried, longest first, when a word is not in the lexicon as written: عالیه -> عالی, مشکلم -> مشکل.
_FA_SUFFIXES = sorted(["ها", "های", "هایی", "ترین", "تر", "یم", "ید", "ند", "ام", "اش", "مان", "تان", "شان", "مون",
                       "تون", "شون", "ی", "ه", "م", "ش", "ن", "ست", "یه"], key=len, reverse=True)


@dataclass(frozen=True)
class Term:
    """One lexicon entry: its weight, the weight it takes when negated, and how it matches."""

    weight: float
    negated: float | None = None
    prefix: bool = False  # "term*": any word starting with it
    verb: bool = False  # "stem~": also negated by the language's negative verb morphology

    def value(self, negated: bool) -> float:
        """The weight as used, negated or not."""
        if not negated:
            return self.weight
        return self.negated if self.negated is not None else NEGATION_FACTOR * self.weight


@dataclass
class Lexicon:
    """A language's terms (exact phrases and prefixes), negators, boosters and contrast words."""

    locale: str
    exact: dict[tuple[str, ...], Term] = field(default_factory=dict)
    prefixes: dict[tuple[str, ...], list[tuple[str, Term]]] = field(default_factory=dict)  # head -> (stem, term)
    negators_before: set[str] = field(default_factory=set)
    negators_after: set[str] = field(default_factory=set)
    negator_prefixes_after: tuple[str, ...] = ()
    boosters: dict[tuple[str, ...], float] = field(default_factory=dict)
    contrast: set[str] = field(default_factory=set)
    longest: int = 1

    def add(self, words: tuple[str, ...], term: Term) -> None:
        """Add a term, keeping prefix stems longest first so the most specific one wins."""
        self.longest = max(self.longest, len(words))
        if term.prefix or term.verb:
            stems = self.prefixes.setdefault(words[:-1], [])
            stems.append((words[-1], term))
            stems.sort(key=lambda pair: len(pair[0]), reverse=True)
        else:
            self.exact[words] = term


def _read(path: Path, lexicon: Lexicon) -> None:
    section = "terms"
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            section = line[1:]
            continue
        fields = line.split("\t")
        text = fields[0]
        marker = text[-1] if text[-1] in "*~" and len(text) > 1 else ""
        words = tuple(tokens(text.rstrip("*~") if marker else text, lexicon.locale))
        if section == "terms":
            negated = float(fields[2]) if len(fields) > 2 else None
            term = Term(float(fields[1]), negated, prefix=marker == "*", verb=marker == "~")
            lexicon.add(words, term)
            if lexicon.locale == "fa" and len(words) > 1 and not marker:
                lexicon.add(("".join(words),), term)  # بی ادب written joined: بیادب
        elif section == "boosters":
            lexicon.boosters[words] = float(fields[1])
        elif section == "negators_before":
            lexicon.negators_before.add(words[0])
        elif section == "negators_after":
            if marker:
                lexicon.negator_prefixes_after += (words[0],)
            else:
                lexicon.negators_after.add(words[0])
        elif section == "contrast":
            lexicon.contrast.add(words[0])
        else:
            raise ValueError(f"{path.name}: unknown section @{section}")


@cache
def load_lexicon(locale: str) -> Lexicon:
    """The lexicon of a supported locale, read once: its own file plus the shared emoji list."""
    if locale not in LOCALES:
        raise ValueError(f"no sentiment lexicon for locale {locale!r}")
    lexicon = Lexicon(locale)
    _read(LEXICONS / "emoji.txt", lexicon)
    _read(LEXICONS / f"{locale}.txt", lexicon)
    return lexicon


def _verb_forms(word: str, locale: str) -> list[tuple[str, bool]]:
    """A word with its negative verb prefix taken off (Persian), and whether there was one."""
    if locale != "fa":
        return [(word, False)]
    forms = [(word, False)]
    for prefix, negated in (("نمی", True), ("می", False), ("ن", True)):
        if word.startswith(prefix) and len(word) > len(prefix) + 1:
            rest = word[len(prefix):]
            forms.append((rest, negated))
            if negated and rest.startswith("ی"):  # نیومد = ن + اومد, نیامد = ن + آمد
                forms += [("ا" + rest[1:], True), ("آ" + rest[1:], True)]
            break
    return forms


def _match_last(lexicon: Lexicon, head: tuple[str, ...], word: str) -> tuple[Term, bool] | None:
    """The term a phrase's last word completes (exact, then longest prefix or verb stem), and if it is negated."""
    term = lexicon.exact.get(head + (word,))
    if term is not None:
        return term, False
    for form, negated in _verb_forms(word, lexicon.locale):
        for stem, term in lexicon.prefixes.get(head, ()):
            if not form.startswith(stem) or (negated and not term.verb):
                continue
            if term.verb and lexicon.locale == "tr" and _TR_NEGATIVE.match(form[len(stem):]):
                return term, True
            return term, negated
    if lexicon.locale == "fa" and len(word) > 3:
        for suffix in _FA_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                term = lexicon.exact.get(head + (word[: -len(suffix)],))
                if term is not None:
                    return term, False
    return None


def _term_at(lexicon: Lexicon, words: list[str], i: int) -> tuple[int, Term, bool] | None:
    """The longest term starting at words[i]: (length, term, negated by morphology)."""
    for length in range(min(lexicon.longest, len(words) - i), 0, -1):
        found = _match_last(lexicon, tuple(words[i:i + length - 1]), words[i + length - 1])
        if found:
            return length, *found
    return None


def _booster_at(lexicon: Lexicon, words: list[str], i: int) -> tuple[int, float] | None:
    for length in (2, 1):
        factor = lexicon.boosters.get(tuple(words[i:i + length]))
        if factor is not None and i + length <= len(words):
            return length, factor
    return None


def _is_negator_after(lexicon: Lexicon, word: str) -> bool:
    return word in lexicon.negators_after or word.startswith(lexicon.negator_prefixes_after or ("\0",))


def score_words(lexicon: Lexicon, words: list[str]) -> float:
    """The summed weight of a comment's words (before squashing into [-1, 1])."""
    hits: list[list] = []  # [position, value, term, negated, after the last contrast, flipped after, boost]
    boost, boost_left, negate_left, contrast_seen = 1.0, 0, 0, False
    i = 0
    while i < len(words):
        word = words[i]
        if word in CLAUSE_BREAKS:
            negate_left = boost_left = 0
            i += 1
            continue
        if word in lexicon.contrast:
            contrast_seen, negate_left, boost_left = True, 0, 0
            for hit in hits:
                hit[4] = False  # only the last "but" counts: what follows it weighs more
            i += 1
            continue
        if word in lexicon.negators_before and not _term_at(lexicon, words, i):  # "not working" is a term
            negate_left = NEGATION_REACH
            i += 1
            continue
        if hits and _is_negator_after(lexicon, word):
            last = hits[-1]
            if i - last[0] <= 2 and not last[5]:
                last[3] = not last[3]
                last[5] = True  # a copula negates once: "memnun değil değil" is not a thing
                last[1] = last[2].value(last[3]) * last[6]
        booster = _booster_at(lexicon, words, i)  # first: Turkish "çok" (very) folds to "cok" like "çök" (crash)
        if booster:
            boost, boost_left = booster[1], 3
            i += booster[0]
            continue
        found = _term_at(lexicon, words, i)
        if found:
            length, term, negated = found
            negated = negated != (negate_left > 0)
            factor = boost if boost_left > 0 else 1.0
            hits.append([i, term.value(negated) * factor, term, negated, True, False, factor])
            boost_left = 0
            i += length
            negate_left = max(0, negate_left - length)
            continue
        i += 1
        negate_left, boost_left = max(0, negate_left - 1), max(0, boost_left - 1)
    if not contrast_seen:
        return sum(hit[1] for hit in hits)
    return sum(hit[1] * (1.5 if hit[4] else 0.5) for hit in hits)  # "ok but late": the part after "but" counts


def squash(total: float) -> float:
    """A summed weight mapped into (-1, 1), so a score reads the same however long the comment."""
    return total / math.sqrt(total * total + SQUASH)


class LexiconAnalyser:
    """Sentiment from hand-written word lists for en, tr and fa; always available, microseconds per comment."""

    name = "lexicon"

    def analyse(self, text: str, locale: str | None = None) -> Sentiment:
        """The label and score of one comment."""
        if not text or not text.strip():
            return Sentiment("neutral", 0.0, self.name)
        locale = resolve_locale(text, locale)
        words = tokens(text, locale)
        total = score_words(load_lexicon(locale), words)
        exclamations = min(words.count("!"), 3)
        score = squash(total * (1 + 0.1 * exclamations))
        return Sentiment(label_for(score), round(score, 4), self.name)
