"""Text normalisation for sentiment: script detection, Persian letter variants and ZWNJ, Turkish casing, tokens."""
from __future__ import annotations

import re
import unicodedata

LOCALES = ("en", "tr", "fa")

# Arabic-keyboard letters that Persian writers type for their Persian twins, and marks that change no meaning.
_PERSIAN_FOLD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ۀ": "ه", "ة": "ه", "ؤ": "و", "إ": "ا", "أ": "ا",
                               "\u0640": None, "\u200c": " ", "\u200d": None, "\u200f": None, "\u200e": None,
                               "،": ",", "؟": "?", "؛": ";"})
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670]")
# Turkish letters folded to ASCII: people type "cok kotu" for "çok kötü", and I/İ lower differently in Turkish.
_TURKISH_FOLD = str.maketrans({"ç": "c", "ğ": "g", "ı": "i", "ö": "o", "ş": "s", "ü": "u", "â": "a", "î": "i",
                               "û": "u", "\u0307": None})
_TURKISH_ONLY = re.compile("[çğışöüÇĞİŞÖÜ]")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN = re.compile("[A-Za-z]")
# Words, numbers like 10/10, emoticons, and any single emoji or other symbol.
_TOKEN = re.compile(r"[:;]-?[()/DPp]|<3|\d+/\d+|[^\W_]+(?:['’][^\W_]+)?|[^\w\s]", re.UNICODE)
# می/نمی written apart from their verb (می‌کنم, می کنم) are one word for lookup: میکنم.
_PERSIAN_VERB_PREFIX = re.compile(r"(?<!\S)(ن?می)[\u200c ]+(?=\S)")
_VARIATION = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")


def detect_locale(text: str) -> str:
    """The locale a comment's script suggests: Arabic script is Persian, Turkish letters Turkish, else English."""
    arabic = len(_ARABIC_SCRIPT.findall(text))
    latin = len(_LATIN.findall(text)) + len(_TURKISH_ONLY.findall(text))
    if arabic and arabic >= latin:
        return "fa"
    if _TURKISH_ONLY.search(text):
        return "tr"
    return "en"


def resolve_locale(text: str, locale: str | None) -> str:
    """A supported locale for the comment: the given one ("tr-TR" -> "tr") if supported, else detected by script."""
    if locale:
        base = locale.replace("_", "-").split("-")[0].lower()
        if base in LOCALES:
            if base != "fa" and _ARABIC_SCRIPT.search(text) and detect_locale(text) == "fa":
                return "fa"  # a Persian comment on an English survey is still Persian
            return base
    return detect_locale(text)


def lower(text: str, locale: str) -> str:
    """Lower-case with Turkish dotted/dotless I handled, so "İYİ" and "IYI" both become "iyi" once folded."""
    if locale == "tr":
        text = text.replace("İ", "i").replace("I", "ı")
    return text.lower()


def fold(word: str, locale: str) -> str:
    """The form a word is looked up by: lower-cased, Turkish folded to ASCII, Persian letters unified."""
    word = unicodedata.normalize("NFC", word)
    if locale == "fa":
        return _ARABIC_MARKS.sub("", word).translate(_PERSIAN_FOLD).lower()
    word = lower(word, locale)
    if locale == "tr":
        word = word.translate(_TURKISH_FOLD)
    return word.replace("’", "'")


def tokens(text: str, locale: str) -> list[str]:
    """The folded tokens of a comment: words, emoticons and single symbols (emoji, punctuation)."""
    text = _VARIATION.sub("", unicodedata.normalize("NFC", text))
    if locale == "fa":
        text = _PERSIAN_VERB_PREFIX.sub(r"\1", _ARABIC_MARKS.sub("", text)).translate(_PERSIAN_FOLD)
    return [fold(token, locale) for token in _TOKEN.findall(text)]
