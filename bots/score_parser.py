"""Reading the one survey score a free-text SMS or Telegram reply gives, in English, Turkish or Persian."""
from __future__ import annotations

import re
import unicodedata

# A reply longer than one SMS segment is a comment that happens to contain numbers, not a score.
MAX_REPLY_CHARS = 160
# Longer digit runs are phone numbers, years or order ids (a scale whose high is wider allows that width).
MAX_DIGITS = 2

# Zero of each digit script that phone keyboards send as well as ASCII: Persian, then Arabic-Indic.
DIGIT_ZEROS = ("\u06f0", "\u0660")
_DIGITS = str.maketrans({chr(ord(zero) + i): str(i) for zero in DIGIT_ZEROS for i in range(10)})
# "9️⃣" is 9, U+FE0F (often dropped by keyboards), U+20E3; 🔟 has no digit of its own.
_KEYCAP = re.compile("([0-9])\ufe0f?\u20e3")
KEYCAP_TEN = "\U0001f51f"

# Spellings that differ only by keyboard: dotless i, Arabic yeh/kaf, kashida (pure stretching).
_LETTER_VARIANTS = str.maketrans({"ı": "i", "ي": "ی", "ى": "ی", "ك": "ک", "\u0640": None})
# Accents, Persian short vowels, the dot NFKD splits off "İ", emoji variation selectors, keycap frames.
_DROPPED_CATEGORIES = frozenset({"Mn", "Me"})


def normalise_digits(text: str) -> str:
    """Text with Persian and Arabic-Indic digits and keycap emoji written as ASCII digits."""
    return _KEYCAP.sub(r"\1", text.translate(_DIGITS)).replace(KEYCAP_TEN, "10")


def fold(text: str) -> str:
    """Text reduced for matching: invisible marks as spaces, one space between words, caseless and accentless."""
    # Format characters (RLM/LRM, ALM, ZWJ/ZWNJ, ZWSP, BOM) ride along invisibly in RTL and pasted replies.
    visible = "".join(" " if unicodedata.category(ch) == "Cf" else ch for ch in text)
    # NFKD before casefold so compatibility forms (fullwidth, circled) are cased too; marks go after both.
    decomposed = unicodedata.normalize("NFKD", visible).casefold()
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    return " ".join(bare.translate(_LETTER_VARIANTS).split())


# Index is value. Spelled naturally; matching folds them, so "sifir", "ALTI" and "يك" match too.
NUMBER_WORDS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    "tr": ("sıfır", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz", "on"),
    "fa": ("صفر", "یک", "دو", "سه", "چهار", "پنج", "شش", "هفت", "هشت", "نه", "ده"),
}
# Also everyday words of their own language ("the best one", "harika bir gün", "یک سوال", "نه" = no),
# so they are read only when the reply is made of nothing but numbers and NUMBER_CONTEXT_WORDS.
LONE_ONLY_WORDS = frozenset(fold(word) for word in ("one", "bir", "یک", "نه"))
# Everyday words of another of our languages (Turkish "on" is English "on"). With no hint they are read
# only like LONE_ONLY_WORDS; their own locale's hint reads them freely; other hints never load their table.
FOREIGN_LOOKALIKE_WORDS = frozenset({fold("on")})

# "9 out of 10", "9/10", "۹ از ۱۰": the denominator follows the score; "10 üzerinden 9": it precedes it.
DENOMINATOR_AFTER = ("/", "out of", "of", "over", "از")
DENOMINATOR_BEFORE = ("üzerinden",)
# Words that may surround a lone-only number word without turning the reply into a sentence:
# denominators, score labels, and the alternatives/ranges that must still be seen as two numbers.
NUMBER_CONTEXT_WORDS = frozenset(
    fold(word)
    for words in (
        ("out", "of", "over", "score", "rating", "points", "point", "or", "and", "to", "between"),
        ("üzerinden", "puan", "ya", "da", "yada", "veya", "ve", "ile", "arası"),
        ("از", "امتیاز", "نمره", "یا", "و", "تا", "بین"),
    )
    for word in words
)


def _marker(word: str) -> str:
    """A regex for one denominator marker, as a whole word when it is a word."""
    escaped = re.escape(fold(word))
    return rf"\b{escaped}\b" if word[0].isalpha() else escaped


_AFTER = "(?:" + "|".join(_marker(word) for word in DENOMINATOR_AFTER) + ")"
_BEFORE = "(?:" + "|".join(_marker(word) for word in DENOMINATOR_BEFORE) + ")"
OUT_OF_FRAMES = (
    re.compile(rf"(?P<n>[0-9]+)\s*{_AFTER}\s*(?P<d>[0-9]+)"),
    re.compile(rf"(?P<d>[0-9]+)\s*{_BEFORE}\s*(?P<n>[0-9]+)"),
)
# A denominator left after the frames above have been read had no score beside it ("out of 10").
_DANGLING_DENOMINATOR = re.compile(rf"{_AFTER}\s*[0-9]|[0-9]\s*{_BEFORE}")
# Each of these makes a reply unclear wherever it appears. Decimals (8.5, ۸٫۵) and times (10:30) need no
# pattern: they are two digit runs, and a reply with two numbers is unclear anyway.
UNCLEAR_PATTERNS = re.compile(
    "|".join(
        (
            r"[-+\u2010-\u2015\u2212][0-9]",  # a sign: -1, +90 555 ...
            r"[0-9][^\W\d_]|[^\W\d_][0-9]",  # digits glued to letters: 9pm, 2nd, a1
        )
    )
)
_WORD = re.compile(r"[^\W\d_]+")
_NUMBER = re.compile(r"[0-9]+")


def _vocabulary(hint: str | None) -> tuple[dict[str, int], frozenset[str]]:
    """The number words read under a locale hint, and those among them read only in a reply of numbers."""
    languages = NUMBER_WORDS if hint is None else dict.fromkeys(("en", hint))
    values: dict[str, int] = {}
    lone_only: set[str] = set()
    for language in languages:
        for value, spelling in enumerate(NUMBER_WORDS[language]):
            word = fold(spelling)
            values[word] = value
            if word in LONE_ONLY_WORDS or (hint is None and word in FOREIGN_LOOKALIKE_WORDS):
                lone_only.add(word)
    return values, frozenset(lone_only)


_VOCABULARIES = {hint: _vocabulary(hint) for hint in (None, *NUMBER_WORDS)}


def _hint(locale: str | None) -> str | None:
    """The NUMBER_WORDS language of a locale tag ("tr-TR" is tr); English for languages we have no words for."""
    if not locale:
        return None
    language = locale.replace("_", "-").split("-")[0].casefold()
    return language if language in NUMBER_WORDS else "en"


def _spell_out(reply: str, hint: str | None) -> str:
    """The folded reply with the number words its locale hint allows written as digits."""
    values, lone_only = _VOCABULARIES[hint]
    lone = all(word in values or word in NUMBER_CONTEXT_WORDS for word in _WORD.findall(reply))

    def digits(match: re.Match[str]) -> str:
        word = match.group()
        if word in values and (lone or word not in lone_only):
            return f" {values[word]} "  # spaces keep it from gluing onto a neighbouring digit
        return word

    return _WORD.sub(digits, reply)


def _without_denominators(reply: str, high: int) -> str | None:
    """The reply with each "n out of high" reduced to n, or None when a denominator is not high."""
    for frame in OUT_OF_FRAMES:
        if any(int(match["d"]) != high for match in frame.finditer(reply)):
            return None
        reply = frame.sub(r" \g<n> ", reply)
    return None if _DANGLING_DENOMINATOR.search(reply) else reply


def read_score(text: str, low: int, high: int, locale: str | None = None) -> int | None:
    """The one score a reply clearly gives on the low..high scale, or None when it is unclear."""
    reply = fold(normalise_digits(text))
    if len(reply) > MAX_REPLY_CHARS:
        return None
    # Words are spelled out even beside digits, so "7 or eight" is two numbers rather than 7.
    reply = _spell_out(reply, _hint(locale))
    if UNCLEAR_PATTERNS.search(reply):
        return None
    reply = _without_denominators(reply, high)
    if reply is None:
        return None
    numbers = _NUMBER.findall(reply)
    if len(numbers) != 1 or len(numbers[0]) > max(MAX_DIGITS, len(str(high))):
        return None
    score = int(numbers[0])
    return score if low <= score <= high else None
